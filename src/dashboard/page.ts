// The dashboard's HTML. Everything a person needs to read before the scripts run is here (the
// panels' titles, the key form, a message that says the scripts are loading), so a failed or
// blocked script never leaves a blank page. The panels fill themselves in from the API.

/** The page for one build: its assets live under `base` (/dashboard/assets/<build>/). */
export function renderPage(base: string, problem: string | null): string {
  const scripts = problem
    ? ''
    : `<script defer src="${base}uplot.js"></script>
<script type="module" src="${base}main.js"></script>`;
  // The banner sits in a live region that is always on the page (even with no message), so a
  // screen reader hears each new message; main.ts makes it assertive for errors.
  const banner = problem
    ? `<div id="messages" class="messages" aria-live="assertive"><div id="banner" class="banner error">The dashboard cannot run: ${escapeHtml(problem)}.</div></div>`
    : `<div id="messages" class="messages" aria-live="polite"><div id="banner" class="banner info">Loading the dashboard's scripts… If this message stays, the scripts did not load: reload the page, or check that JavaScript is enabled.</div></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>trackhouse dashboard</title>
<link rel="icon" href="${base}favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}uplot.css">
<link rel="stylesheet" href="${base}dashboard.css">
${scripts}
</head>
<body>
<header class="top">
  <h1>trackhouse</h1>
  <form id="key-form" class="key-form" autocomplete="off">
    <label for="key-input">Read key</label>
    <input id="key-input" name="key" type="password" required spellcheck="false" placeholder="TRACKHOUSE_READ_KEYS">
    <button type="submit">Use key</button>
  </form>
  <div id="key-set" class="key-set" hidden>
    <span id="key-set-note" tabindex="-1">read key set for this tab</span>
    <button id="key-forget" type="button">Forget key</button>
  </div>
</header>
<main>
${banner}
<noscript><div class="banner error">This dashboard needs JavaScript. The API works without it: see the README's "Reading events".</div></noscript>
<div class="grid">
  <section id="live" class="panel wide" aria-labelledby="live-title">
    <h2 id="live-title">Live events per second, by source</h2>
    <p class="note">The last 15 minutes, per minute, updated every 2 s. Times of day on the chart are your time (<span data-local-zone>the browser's zone</span>); the minutes are the same instants in every zone.</p>
    <p class="status" data-status></p>
    <div class="chart" data-chart></div>
    <table class="compact" data-table></table>
  </section>
  <section id="top" class="panel" aria-labelledby="top-title">
    <h2 id="top-title">Today's top events and categories</h2>
    <p class="note">Since midnight UTC, from the daily rollups.</p>
    <p class="status" data-status></p>
    <div class="split">
      <div><h3>Events</h3><ol class="bars" data-events></ol></div>
      <div><h3>Categories</h3><ol class="bars" data-categories></ol></div>
    </div>
  </section>
  <section id="pipeline" class="panel" aria-labelledby="pipeline-title">
    <h2 id="pipeline-title">Ingest health and sink lag</h2>
    <p class="note">Read by the query process from the ingest's and the sink's /readyz and /metrics.</p>
    <p class="status" data-status></p>
    <div class="cards" data-cards></div>
    <div class="chart small" data-chart></div>
  </section>
  <section id="rejected" class="panel" aria-labelledby="rejected-title">
    <h2 id="rejected-title">Rejected events by reason</h2>
    <p class="status" data-status></p>
    <ol class="bars" data-list></ol>
    <h3 id="refused-title">Requests refused before any event was read</h3>
    <p class="note" data-refused-note></p>
    <ol class="refused" data-refused aria-labelledby="refused-title"></ol>
  </section>
  <section id="alerts" class="panel" aria-labelledby="alerts-title">
    <h2 id="alerts-title">Alerts</h2>
    <p class="status" data-status></p>
    <div data-body></div>
  </section>
  <section id="rollups" class="panel wide" aria-labelledby="rollups-title">
    <h2 id="rollups-title">Daily rollups</h2>
    <form class="filters" data-form>
      <label>By <select name="by"><option value="event">event</option><option value="category">category</option><option value="group">group</option></select></label>
      <label>From (UTC day) <input name="from" type="date" required></label>
      <label>To (UTC day, not included) <input name="to" type="date" required></label>
      <label>Source <input name="source" type="text" placeholder="all" spellcheck="false"></label>
      <button type="submit">Show</button>
    </form>
    <p class="status" data-status role="status"></p>
    <div class="chart" data-chart></div>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Daily rollups, every row"><table data-table></table></div>
  </section>
  <section id="user" class="panel wide" aria-labelledby="user-title">
    <h2 id="user-title">One user's timeline</h2>
    <form class="filters" data-form>
      <label>User id <input name="user" type="text" required spellcheck="false" placeholder="user id or anonymous id"></label>
      <label>From (your time) <input name="from" type="datetime-local" step="1"></label>
      <label>To (your time, not included) <input name="to" type="datetime-local" step="1"></label>
      <label>Type <select name="type"><option value="">any</option><option>track</option><option>identify</option><option>page</option><option>screen</option><option>group</option><option>alias</option></select></label>
      <label>Event <input name="event" type="text" placeholder="any track event" spellcheck="false"></label>
      <label>Per page <select name="limit"><option>20</option><option selected>100</option><option>500</option></select></label>
      <button type="submit">Show events</button>
    </form>
    <p class="note">From and To are your time (<span data-local-zone>the browser's zone</span>); the events' times are listed in UTC.</p>
    <p class="status" data-status role="status"></p>
    <div class="table-wrap" tabindex="0" role="region" aria-label="The user's events" data-wrap><table data-table></table></div>
    <button type="button" data-more hidden>Load older events</button>
  </section>
</div>
</main>
</body>
</html>
`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
