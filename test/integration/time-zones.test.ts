// Everything is UTC whatever the zone of the machine or of the browser (docs/contract.md, "Times
// and time zones"). The all-in-one runs with TZ=Asia/Kathmandu (+05:45, so neither a local hour
// nor a local day lines up with UTC's), chDB inside it included, and holds events one millisecond
// either side of two UTC midnights: one pair older than the view's window (QUERY_VIEW_DAYS=2, so
// ClickHouse answers) and one pair inside it (the view answers). The API must put each on its UTC
// day (rollups, live volume's day and hour windows) and cut at the UTC instants asked for (the
// per-user from/to). Then the dashboard, in a browser whose zone is on another date than UTC
// right now (Pacific/Pago_Pago, -11:00, before 11:00 UTC; Pacific/Kiritimati, +14:00, after):
// today's top events are UTC today's, the rollups' rows and chart points are UTC days, the live
// minutes hold the event sent now, and the timeline's From/To, typed in the browser's zone (which
// the page names), select the same events as the UTC instants they are (said in UTC on the page).
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/localkafka/index.js';
import { CHROMIUM_ARGS, CHROMIUM_MISSING, chromiumPath, LAPTOP, outputDir } from '../support/chromium.js';
import { sendBatch, startAllInOne, withinOneUtcDay, type AllInOne } from '../support/allinone.js';

const SUITE = 'time-zones';
const SERVER_TZ = 'Asia/Kathmandu';
const DAY = 86_400_000;
const HOUR = 3_600_000;
const READ = { authorization: 'Bearer dev-read-key' };
const executablePath = chromiumPath();

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

/** The wall clock of `ms` in `zone` as a datetime-local input takes it: YYYY-MM-DDTHH:MM:SS. */
function wallClock(ms: number, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

describe('all times are UTC: the all-in-one in TZ=Asia/Kathmandu, the dashboard in a zone on another date', () => {
  const run = randomBytes(3).toString('hex');
  const user = `tz-user-${run}`;
  const name = `TZ Check ${run}`;
  const liveName = `TZ Live ${run}`;
  let aio: AllInOne;
  let bi: ClickHouseClient;
  /** Today's UTC midnight. */
  let d0 = 0;
  /** The events' times, oldest first: 1 ms before and at the UTC midnight three days ago, 1 ms before and (twice) at today's. */
  let times: number[] = [];

  const get = async <T>(pathAndQuery: string): Promise<T> => {
    const res = await fetch(`${aio.queryUrl}${pathAndQuery}`, { headers: READ });
    expect(res.status, `${pathAndQuery}: ${await res.clone().text()}`).toBe(200);
    return (await res.json()) as T;
  };
  const eventTimes = async (query: string): Promise<string[]> =>
    (await get<{ events: { timestamp: string }[] }>(`/v1/users/${encodeURIComponent(user)}/events?${query}`)).events.map((e) => e.timestamp);

  /** Pages of events the query API answered from `answer` (view, view_clickhouse, clickhouse) so far. */
  const answers = async (answer: string): Promise<number> => {
    const text = await (await fetch(`${aio.queryUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('trackhouse_query_events_answers_total{') && l.includes(`answer="${answer}"`));
    return Number(line?.split(' ').pop() ?? 0);
  };

  beforeAll(async () => {
    // The test reads "today" (UTC) more than once: it runs within one UTC day.
    await withinOneUtcDay(300_000);
    const biPort = await freePort();
    aio = await startAllInOne('timezones', {
      TZ: SERVER_TZ,
      BI_PORT: String(biPort),
      QUERY_VIEW_DAYS: '2',
      // Live volume keeps these days-old events in their windows rather than counting them late only.
      STREAM_ALLOWED_LATENESS_MS: String(7 * DAY),
    });
    bi = createClient({ url: `http://127.0.0.1:${biPort}`, username: 'bi', password: 'dev-read-key', log: { level: ClickHouseLogLevel.OFF } });
    d0 = Date.parse(`${utcDay(Date.now())}T00:00:00Z`);
    times = [d0 - 3 * DAY - 1, d0 - 3 * DAY, d0 - 1, d0, d0];
    await sendBatch(aio.ingestUrl, [
      ...times.map((t, i) => ({ type: 'track', userId: user, event: name, timestamp: iso(t), messageId: `${run}-${i}` })),
      // One event now, for the live minutes.
      { type: 'track', userId: `${user}-live`, event: liveName, timestamp: iso(Date.now()), messageId: `${run}-live` },
    ]);
    // Every event is readable (the sink has them in ClickHouse, the view has the recent ones).
    const deadline = Date.now() + 120_000;
    while ((await eventTimes('limit=10')).length < times.length) {
      if (Date.now() > deadline) throw new Error(`the events were not all readable in 120 s:\n${aio.output()}`);
      await sleep(500);
    }
  }, 360_000);

  afterAll(async () => {
    await bi?.close();
    await aio?.stop();
  });

  it("runs chDB in the process's zone: ClickHouse's own time zone is Kathmandu's", async () => {
    // Asked through the all-in-one's SQL port, which answers from the same chDB.
    const [row] = await (await bi.query({ query: 'SELECT timezone() AS tz', format: 'JSONEachRow' })).json<{ tz: string }>();
    expect(row?.tz).toBe(SERVER_TZ);
  });

  it('counts each event on its UTC day in the daily rollups, older and newer than the view window', async () => {
    const body = await get<{ rows: { day: string; key: string; events: number }[] }>(`/v1/rollups/daily?by=event&from=${utcDay(d0 - 4 * DAY)}&to=${utcDay(d0 + DAY)}`);
    const rows = body.rows.filter((r) => r.key === name).map((r) => [r.day, r.events]);
    expect(rows).toEqual([
      [utcDay(d0 - 4 * DAY), 1],
      [utcDay(d0 - 3 * DAY), 1],
      [utcDay(d0 - DAY), 1],
      [utcDay(d0), 2],
    ]);
  });

  it("cuts a user's events at the UTC instants of from and to, from ClickHouse (older than the view) and from the view", async () => {
    expect(await eventTimes('limit=10')).toEqual([d0, d0, d0 - 1, d0 - 3 * DAY, d0 - 3 * DAY - 1].map(iso));
    // Today's UTC midnight: from is inclusive, to exclusive.
    expect(await eventTimes(`from=${iso(d0)}`)).toEqual([iso(d0), iso(d0)]);
    expect(await eventTimes(`from=${utcDay(d0 - DAY)}&to=${utcDay(d0)}`)).toEqual([iso(d0 - 1)]);
    // Beyond the view's window: ClickHouse cuts at the same instants.
    const fromClickHouse = await answers('clickhouse');
    expect(await eventTimes(`from=${utcDay(d0 - 3 * DAY)}&to=${utcDay(d0 - 2 * DAY)}`)).toEqual([iso(d0 - 3 * DAY)]);
    expect(await eventTimes(`to=${utcDay(d0 - 3 * DAY)}`)).toEqual([iso(d0 - 3 * DAY - 1)]);
    expect(await answers('clickhouse')).toBe(fromClickHouse + 2);
    // The same instant written with Kathmandu's offset selects the same events.
    const kathmandu = `${utcDay(d0 - 3 * DAY)}T05:45:00%2B05:45`;
    expect(await eventTimes(`from=${kathmandu}`)).toEqual([d0, d0, d0 - 1, d0 - 3 * DAY].map(iso));
  });

  it("puts each event in its UTC day's and UTC hour's live volume window", async () => {
    const volume = async (window: string, from: number) => {
      const q = `by=event&event=${encodeURIComponent(name)}&window=${window}&from=${iso(from)}&to=${iso(d0 + DAY)}`;
      return (await get<{ rows: { start: string; events: number }[] }>(`/v1/volume?${q}`)).rows.map((r) => [r.start, r.events]);
    };
    const expected = (size: number) => [
      [iso(d0 - 3 * DAY - size), 1],
      [iso(d0 - 3 * DAY), 1],
      [iso(d0 - size), 1],
      [iso(d0), 2],
    ];
    await expect.poll(() => volume('day', d0 - 4 * DAY), { timeout: 60_000, interval: 1_000 }).toEqual(expected(DAY));
    expect(await volume('hour', d0 - 4 * DAY)).toEqual(expected(HOUR));
  });

  describe.runIf(executablePath !== null)('the dashboard in Chromium', () => {
    // A zone whose date is not UTC's right now, whatever the time of the run.
    const zone = new Date().getUTCHours() < 10 ? 'Pacific/Pago_Pago' : 'Pacific/Kiritimati';
    let browser: Browser;
    let page: Page;
    const errors: string[] = [];

    beforeAll(async () => {
      browser = await playwright.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS, headless: true });
      const context = await browser.newContext({ viewport: LAPTOP, timezoneId: zone, locale: 'en-US' });
      page = await context.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${aio.queryUrl}/dashboard`);
      await page.fill('#key-input', 'dev-read-key');
      await page.click('#key-form button[type=submit]');
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
    });

    const shot = (test: string) => page.screenshot({ path: path.join(outputDir(SUITE, test), 'screenshot.png'), fullPage: true });

    it(`runs in ${zone}, on another date than UTC`, async () => {
      expect(await page.evaluate('Intl.DateTimeFormat().resolvedOptions().timeZone')).toBe(zone);
      expect(await page.evaluate('new Date().toLocaleDateString("en-CA")')).not.toBe(utcDay(Date.now()));
    });

    it("shows today's top events of the UTC day, not the browser's", async () => {
      const top = page.locator('#top [data-events] li', { hasText: name });
      await expect.poll(() => top.locator('.value').textContent().catch(() => null), { timeout: 30_000 }).toBe('2');
      expect(await page.textContent('#top .note')).toContain('midnight UTC');
    });

    it('lists and charts the rollups by UTC day', async () => {
      // The range picker starts on UTC days: the last seven up to today.
      expect(await page.inputValue('#rollups input[name=to]')).toBe(utcDay(d0 + DAY));
      await page.fill('#rollups input[name=from]', utcDay(d0 - 4 * DAY));
      await page.click('#rollups button[type=submit]');
      const rows = page.locator('#rollups table[data-table] tbody tr', { hasText: name });
      const table = async () => (await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))).map((c) => [c[0], c[2]]);
      const want = [
        [utcDay(d0), '2'],
        [utcDay(d0 - DAY), '1'],
        [utcDay(d0 - 3 * DAY), '1'],
        [utcDay(d0 - 4 * DAY), '1'],
      ];
      await expect.poll(table, { timeout: 30_000 }).toEqual(want);
      // The chart: the pointer at its left and right ends shows the first and last UTC day and its count.
      // (Polled, the pointer leaving and coming back each time: uPlot updates its legend on the
      // next animation frame after a move, and a refresh of the panel may redraw the chart.)
      const at = (fromRight: boolean) => async () => {
        // In view first: the mouse reaches only what the viewport shows, and below the fold
        // (the panels above it grow with the data) the move hovered nothing.
        const over = page.locator('#rollups .u-over');
        await over.scrollIntoViewIfNeeded();
        const box = (await over.boundingBox())!;
        await page.mouse.move(0, 0);
        await page.mouse.move(box.x + (fromRight ? box.width - 4 : 4), box.y + box.height / 2, { steps: 2 });
        const l = await page.locator('#rollups .u-legend .u-series').evaluateAll((s) => s.map((e) => [e.querySelector('.u-label')?.textContent, e.querySelector('.u-value')?.textContent]));
        return [l[0], l.find(([label]) => label === name)];
      };
      await expect.poll(at(false), { timeout: 20_000 }).toEqual([['day (UTC)', utcDay(d0 - 4 * DAY)], [name, '1 events']]);
      await expect.poll(at(true), { timeout: 20_000 }).toEqual([['day (UTC)', utcDay(d0)], [name, '2 events']]);
      await shot('rollups');
    });

    it('counts the event sent now in the live minutes, the chart naming the zone its times of day are in', async () => {
      const live = page.locator('#live [data-source=dev] td').nth(2);
      await expect.poll(() => live.textContent().catch(() => null), { timeout: 30_000 }).toBe('1');
      expect(await page.textContent('#live .note')).toContain(`your time (${zone})`);
      expect(await page.textContent('#live .u-legend .u-series:first-child .u-label')).toBe('your time');
    });

    it("takes the timeline's From and To in the browser's zone, named on the page, and says the UTC range it asked for", async () => {
      expect(await page.textContent('#user .note')).toContain(`your time (${zone})`);
      const rows = page.locator('#user table[data-table] tbody tr');
      const shown = () => rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')?.textContent));
      await page.fill('#user input[name=user]', user);
      // Today's UTC midnight as the browser's wall clock: today's two events.
      await page.fill('#user input[name=from]', wallClock(d0, zone));
      await page.click('#user button[type=submit]');
      await expect.poll(shown, { timeout: 30_000 }).toEqual([`${utcDay(d0)} 00:00:00.000 UTC`, `${utcDay(d0)} 00:00:00.000 UTC`]);
      expect(await page.textContent('#user [data-status]')).toContain(`2 events of ${user} from ${utcDay(d0)} 00:00:00.000 UTC,`);
      // Up to (not including) that instant: the three before it, newest first.
      await page.fill('#user input[name=from]', '');
      await page.fill('#user input[name=to]', wallClock(d0, zone));
      await page.click('#user button[type=submit]');
      await expect.poll(shown, { timeout: 30_000 }).toEqual([
        `${utcDay(d0 - DAY)} 23:59:59.999 UTC`,
        `${utcDay(d0 - 3 * DAY)} 00:00:00.000 UTC`,
        `${utcDay(d0 - 4 * DAY)} 23:59:59.999 UTC`,
      ]);
      expect(await page.textContent('#user [data-status]')).toContain(`3 events of ${user} before ${utcDay(d0)} 00:00:00.000 UTC,`);
      await shot('timeline');
      expect(errors).toEqual([]);
    });

    it('says in which zone the time of the last answer is, once the server is gone', async () => {
      await aio.stop();
      // The page's clock reads the browser's zone: the banner names it ("SST", "GMT+14").
      const zoneName = new Date().toLocaleTimeString('en-US', { timeZone: zone, timeZoneName: 'short' }).split(' ').pop()!;
      await expect.poll(() => page.textContent('#banner'), { timeout: 30_000 }).toContain('No answer from the query API');
      expect(await page.textContent('#banner')).toMatch(new RegExp(`What you see is from \\d{1,2}:\\d{2}:\\d{2}\\s[AP]M ${zoneName.replace('+', '\\+')}\\.`));
      expect(errors).toEqual([]);
    });
  });

  if (executablePath === null) {
    describe('the dashboard in Chromium', () => {
      it.skip(CHROMIUM_MISSING, () => {});
    });
  }
});
