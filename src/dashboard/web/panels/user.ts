// One user's timeline: GET /v1/users/{id}/events with the from/to/type/event filters, newest
// first, a page at a time ("Load older events" follows next_cursor).
import type { Api } from '../api.js';
import { el, part, replace, setStatus } from '../dom.js';
import { parseExact } from '../exactjson.js';
import { fmtCount, fmtUtc, fmtUtcRange, localInputToIso } from '../format.js';
import { type Panel, panelError } from '../panel.js';
import type { EventRow, EventsPage } from '../types.js';

interface Request {
  user: string;
  query: Record<string, string | null>;
}

export class UserPanel implements Panel {
  readonly id = 'user';
  readonly everyMs = 0;
  private readonly form: HTMLFormElement;
  private readonly more: HTMLButtonElement;
  private request: Request | null = null;
  private cursor: string | null = null;
  private shown = 0;
  private loadingMore = false;

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
    private readonly run: (p: Panel) => void,
  ) {
    this.form = part<HTMLFormElement>(section, 'form');
    this.more = part<HTMLButtonElement>(section, 'more');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.request = this.readForm();
      this.cursor = null;
      this.loadingMore = false;
      run(this);
    });
    this.more.addEventListener('click', () => {
      this.loadingMore = true;
      run(this);
    });
  }

  private value(name: string): string {
    return (this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
  }

  private readForm(): Request {
    return {
      user: this.value('user').trim(),
      query: {
        from: localInputToIso(this.value('from')),
        to: localInputToIso(this.value('to')),
        type: this.value('type') || null,
        event: this.value('event').trim() || null,
        limit: this.value('limit'),
      },
    };
  }

  reset(): void {
    this.request = null;
    this.cursor = null;
    this.shown = 0;
    this.more.hidden = true;
    part(this.section, 'table').replaceChildren();
    setStatus(this.section, '');
  }

  async refresh(): Promise<void> {
    const r = this.request;
    if (r === null || r.user === '') return;
    const append = this.loadingMore && this.cursor !== null;
    // Read before the button is disabled (which takes the focus away from it).
    const moreFocused = document.activeElement === this.more;
    this.more.disabled = true;
    let page: EventsPage;
    try {
      // Properties keep their 64-bit integers digit for digit (eventRow shows them by JSON.stringify).
      page = await this.api.get<EventsPage>(`/v1/users/${encodeURIComponent(r.user)}/events`, { ...r.query, cursor: append ? this.cursor : null }, parseExact);
    } catch (err) {
      this.more.disabled = false;
      if (moreFocused) this.more.focus();
      panelError(this.section, err, `events of ${r.user} unavailable`);
      return;
    } finally {
      this.loadingMore = false;
    }
    const table = part(this.section, 'table');
    const rows = page.events.map(eventRow);
    if (append) {
      table.querySelector('tbody')!.append(...rows);
      this.shown += rows.length;
    } else {
      this.shown = rows.length;
      replace(
        table,
        el(
          'thead',
          {},
          el('tr', {}, ...['time (UTC)', 'type', 'event / name', 'source', 'category', 'group', 'properties'].map((h) => el('th', {}, h))),
        ),
        el('tbody', {}, ...rows),
      );
    }
    this.cursor = page.next_cursor;
    this.more.hidden = page.next_cursor === null;
    this.more.disabled = false;
    // The focus stays where the person was: on the button, or on the table once it has it all.
    if (moreFocused) (this.more.hidden ? part(this.section, 'wrap') : this.more).focus();
    // The range in UTC, as the API took it: what the From and To typed in local time meant.
    const range = fmtUtcRange(r.query.from ?? null, r.query.to ?? null);
    setStatus(
      this.section,
      this.shown === 0
        ? `No events for ${r.user} with these filters${range}.`
        : `${fmtCount(this.shown, 'event')} of ${r.user}${range}, newest first${page.next_cursor ? '; older ones follow' : ''}.`,
      this.shown === 0 ? 'warn' : 'info',
    );
  }
}

/** Properties as JSON text: JSON.stringify is what writes a kept 64-bit integer (exactjson.ts) as its digits. */
function eventRow(e: EventRow): HTMLElement {
  const props = e.properties && typeof e.properties === 'object' && Object.keys(e.properties).length > 0 ? JSON.stringify(e.properties) : '';
  return el(
    'tr',
    { 'data-event-id': e.event_id },
    el('td', { class: 'nowrap' }, fmtUtc(e.timestamp)),
    el('td', {}, e.type),
    el('td', {}, e.event ?? e.name ?? ''),
    el('td', {}, e.source ?? ''),
    el('td', {}, e.category ?? ''),
    el('td', {}, e.group_id ?? ''),
    el('td', { class: 'json' }, props),
  );
}
