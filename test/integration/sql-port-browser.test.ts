// The read-only SQL port from a page of another origin in a real browser (Debian's Chromium,
// headless, driven by playwright-core), as a web SQL tool uses ClickHouse's HTTP interface: with
// add_http_cors_header=1 the page reads the rollups with the key in X-ClickHouse-Key (a header
// Chromium sends only after a preflight, answered by the port) or as password= (no preflight),
// and reads a refusal's exception code from its exposed header. Without the parameter, Chromium
// refuses the answer: fetch rejects with a TypeError.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/log.js';
import { createSqlEngine, serveSqlPort, type ClickHouseHandle, type SqlPort } from '../../src/warehouse/index.js';
import { chdbWithEvents } from '../support/bi-engine.js';
import { CHROMIUM_MISSING, chromiumPath, pageOfAnotherOrigin } from '../support/chromium.js';
import { tempDir } from '../support/env.js';

const executablePath = chromiumPath();
const KEY = 'bi-browser-key';

if (executablePath === null) {
  describe('the SQL port from a page of another origin', () => {
    it.skip(CHROMIUM_MISSING, () => {});
  });
}

/** What the page's script got: status, the headers it could read, the body; or the error fetch threw. */
interface Fetched {
  status?: number;
  code?: string | null;
  format?: string | null;
  body?: string;
  error?: { name: string; message: string };
}

describe.runIf(executablePath !== null)('the SQL port from a page of another origin (Chromium)', () => {
  const dir = tempDir('trackhouse-sqlport-browser-');
  let ch: ClickHouseHandle;
  let port: SqlPort;
  let base = '';
  let other: Awaited<ReturnType<typeof pageOfAnotherOrigin>>;
  let page: Page;

  beforeAll(async () => {
    ch = await chdbWithEvents(dir.path, '2026-11-30', [['e1', 'Signed Up', 'u-1', 10, 'signup']]);
    port = await serveSqlPort({ engine: await createSqlEngine(ch.client), host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log: createLogger('silent') });
    base = `http://127.0.0.1:${port.port}/`;
    other = await pageOfAnotherOrigin(executablePath!);
    page = other.page;
  });

  afterAll(async () => {
    await other?.close();
    port?.close();
    await ch?.close();
    dir.remove();
  });

  /** fetch(url, init) in the page, evaluated as text (this file is compiled without the DOM's types). */
  async function fetchInPage(url: string, init: Record<string, unknown>): Promise<Fetched> {
    return page.evaluate(`(async () => {
      try {
        const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(init)});
        return { status: r.status, code: r.headers.get('x-clickhouse-exception-code'), format: r.headers.get('x-clickhouse-format'), body: await r.text() };
      } catch (e) {
        return { error: { name: e.name, message: e.message } };
      }
    })()`);
  }

  const statement = 'SELECT event, events FROM events_daily_by_event_v FORMAT JSONEachRow';

  it('is served from another origin than the port', async () => {
    expect(await page.evaluate('location.origin')).toBe(other.url);
  });

  it('reads the rollups with the key in X-ClickHouse-Key, after a preflight the port answers', async () => {
    const got = await fetchInPage(`${base}?add_http_cors_header=1`, { method: 'POST', headers: { 'X-ClickHouse-Key': KEY }, body: statement });
    expect(got.error).toBeUndefined();
    expect([got.status, got.format, got.body]).toEqual([200, 'JSONEachRow', '{"event":"Signed Up","events":"1"}\n']);
  });

  it('reads them with the key as password= and no preflight, and reads a refusal\'s exception code', async () => {
    const got = await fetchInPage(`${base}?add_http_cors_header=1&password=${KEY}&query=${encodeURIComponent(statement)}`, {});
    expect([got.status, got.body]).toEqual([200, '{"event":"Signed Up","events":"1"}\n']);
    const refused = await fetchInPage(`${base}?add_http_cors_header=1&password=${KEY}`, { method: 'POST', body: 'DROP TABLE events' });
    expect([refused.status, refused.code]).toEqual([403, '164']);
    const wrongKey = await fetchInPage(`${base}?add_http_cors_header=1&password=nope&query=SELECT%201`, {});
    expect([wrongKey.status, wrongKey.code]).toEqual([403, '516']);
  });

  it('without add_http_cors_header=1 the browser keeps the answer from the page: fetch rejects with a TypeError', async () => {
    const got = await fetchInPage(`${base}?password=${KEY}&query=${encodeURIComponent(statement)}`, {});
    expect(got.status).toBeUndefined();
    expect(got.error?.name).toBe('TypeError');
  });
});
