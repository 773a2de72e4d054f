// docs/openapi.yaml as microservice teams use it: clients generated from it, driven against
// `trackhouse start` on free ports.
// - TypeScript: openapi-typescript's types, generated on each run into test/support/openapi-ts/
//   api.d.ts (not committed), and openapi-fetch; test/support/openapi-ts/client.ts and this file
//   must compile against them with tsc --noEmit, then its calls send a user's events (POST /v1/batch, /v1/track) and read them
//   back: the events with from/to/type/event filters, page by page with the cursor, the rollups by
//   event and by category, /healthz on both ports, a 400 as the typed error. The fields of every
//   reply must be exactly those of the generated types.
// - Python: OpenAPI Generator's `python` client (its CLI jar from Maven Central, pinned in
//   test/support/openapi-clients.ts), generated with no warning but the few listed below, each
//   harmless, and driven by test/support/openapi-python.py over the same reads.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne, type AllInOne } from '../support/allinone.js';
import { tempDir } from '../support/env.js';
import {
  compileClient,
  ensureOpenapiGenerator,
  ensureOpenapiTypescript,
  generatePython,
  generateTypes,
  OPENAPI_TS_TYPES,
  openapiGeneratorProblem,
  type Generated,
} from '../support/openapi-clients.js';
import {
  dailyRollups,
  EVENTS_PAGE_FIELDS,
  HEALTH_FIELDS,
  healthz,
  identifyCall,
  ingestClient,
  queryClient,
  ROLLUP_ROW_FIELDS,
  sendBatch,
  STORED_EVENT_FIELDS,
  track,
  trackCall,
  userEvents,
  type Api,
  type StoredEvent,
} from '../support/openapi-ts/client.js';
import { GENERATED_CLIENT_PYTHON_MISSING, generatedClientPython, runPythonScript } from '../support/python-clients.js';

const USER = 'gen-client-user';
const VIEWED = 'Viewed Product';
const DAY = '2026-11-03';
const NEXT_DAY = '2026-11-04';
/** The five views inside [DAY, NEXT_DAY), oldest first. */
const VIEW_TIMES = [0, 1, 2, 3, 4].map((m) => `${DAY}T10:0${m}:00.000Z`);
/** Everything sent: the views, one view on each side of the window, two orders and an identify. */
const ALL_EVENTS = 10;

/**
 * OpenAPI Generator's warnings that do not mean broken code, each with why. Any other WARN or
 * ERROR line (an operation without operationId, a duplicate name, an unsupported construct) fails.
 */
const HARMLESS_WARNINGS: [RegExp, string][] = [
  [/^WARN +o\.o\.c\.l\.AbstractPythonCodegen - Codegen property is null \(e\.g\. map\/dict of undefined type\)\. Default to typing\.Any\.$/, 'free-form JSON (properties, traits, context): a dict of Any, as meant'],
  [/^WARN +o\.o\.c\.l\.AbstractPythonCodegen - From \(reserved word\) cannot be used as model name\. Renamed to ModelFrom$/, 'the query parameter `from`, a Python keyword: it is `var_from` (called below); no model is named after it'],
  [/^WARN +o\.o\.codegen\.utils\.ModelUtils - Failed to get the schema name: null$/, "ModelUtils.getSimpleRef asked for the name of an inline schema (no $ref), once: it answers null and generation goes on; every model and operation used below is generated"],
];

const keys = (o: object) => Object.keys(o).sort();

let server: AllInOne | undefined;
let ingest: Api;
let query: Api;
const work = tempDir('trackhouse-openapi-clients-');

beforeAll(async () => {
  server = await startAllInOne('openapi-clients');
  ingest = ingestClient(server.ingestUrl, 'dev-write-key');
  query = queryClient(server.queryUrl, 'dev-read-key');
  const views = VIEW_TIMES.map((t, i) => trackCall(USER, VIEWED, t, { category: 'shoes', n: i }));
  const outside = [trackCall(USER, VIEWED, '2026-11-02T23:59:59.999Z', { category: 'shoes' }), trackCall(USER, VIEWED, `${NEXT_DAY}T00:00:00.000Z`, { category: 'shoes' })];
  const sent = await sendBatch(ingest, [...views, ...outside, trackCall(USER, 'Order Completed', `${DAY}T11:00:00.000Z`, { category: 'shoes', total: 42 }), identifyCall(USER, `${DAY}T09:00:00.000Z`, { plan: 'pro' })]);
  if (sent.status !== 200) throw new Error(`POST /v1/batch answered ${sent.status}: ${JSON.stringify(sent.error)}`);
  const one = await track(ingest, USER, 'Order Completed', `${DAY}T11:01:00.000Z`, { category: 'shoes', total: 7 });
  if (one.status !== 200) throw new Error(`POST /v1/track answered ${one.status}: ${JSON.stringify(one.error)}`);
  // Through the sink into the query API.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const page = await userEvents(query, USER, { limit: 100 });
    if ((page.data?.events.length ?? 0) >= ALL_EVENTS) break;
    if (Date.now() > deadline) throw new Error(`the query API has ${page.data?.events.length ?? page.status} of ${USER}'s ${ALL_EVENTS} events`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 300_000);

afterAll(async () => {
  await server?.stop();
  work.remove();
});

describe('a TypeScript client: openapi-typescript + openapi-fetch', () => {
  it('is generated from the document without a warning, and the client file and this test compile against it', async () => {
    const bin = await ensureOpenapiTypescript();
    const fresh = await generateTypes(bin, OPENAPI_TS_TYPES);
    expect(fresh.output).not.toMatch(/warn|error/i);
    expect(fresh.text).toMatch(/export interface paths \{/);
    const tsc = await compileClient();
    expect(tsc.text).toBe('');
    expect(tsc.code).toBe(0);
  }, 300_000);

  it("pages through a user's track events of one name in [from, to), newest first, by the cursor", async () => {
    const filters = { from: DAY, to: NEXT_DAY, type: 'track', event: VIEWED, limit: 2 } as const;
    const pages: StoredEvent[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const r = await userEvents(query, USER, cursor === undefined ? filters : { ...filters, cursor });
      expect(r.status).toBe(200);
      pages.push(r.data!.events);
      if (r.data!.next_cursor === null) break;
      cursor = r.data!.next_cursor;
      expect(pages.length).toBeLessThan(5);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((e) => e.timestamp)).toEqual([...VIEW_TIMES].reverse());
    expect(new Set(pages.flat().map((e) => e.event_id)).size).toBe(5);
    for (const e of pages.flat()) expect(e).toMatchObject({ type: 'track', event: VIEWED, user_id: USER, source: 'dev', category: 'shoes' });
  });

  it('gets replies with exactly the fields of the generated types', async () => {
    const r = await userEvents(query, USER, { limit: 100 });
    expect(keys(r.data!)).toEqual(keys(EVENTS_PAGE_FIELDS));
    expect(r.data!.events).toHaveLength(ALL_EVENTS);
    for (const e of r.data!.events) expect(keys(e), e.type).toEqual(keys(STORED_EVENT_FIELDS));
    const rollups = await dailyRollups(query, 'event', DAY, NEXT_DAY);
    for (const row of rollups.data!.rows) expect(keys(row)).toEqual(keys(ROLLUP_ROW_FIELDS));
    for (const url of [server!.ingestUrl, server!.queryUrl]) {
      const h = await healthz(queryClient(url, 'dev-read-key'));
      expect([h.status, h.data]).toEqual([200, { status: 'ok' }]);
      expect(keys(h.data!)).toEqual(keys(HEALTH_FIELDS));
    }
  });

  it('reads the daily rollups by event and by category', async () => {
    const byEvent = await dailyRollups(query, 'event', DAY, NEXT_DAY);
    expect(byEvent.status).toBe(200);
    expect(byEvent.data!.rows).toEqual([
      { day: DAY, type: 'identify', key: 'identify', events: 1, users: 1 },
      { day: DAY, type: 'track', key: 'Order Completed', events: 2, users: 1 },
      { day: DAY, type: 'track', key: VIEWED, events: 5, users: 1 },
    ]);
    const byCategory = await dailyRollups(query, 'category', DAY, NEXT_DAY);
    expect(byCategory.data!.rows).toEqual([{ day: DAY, key: 'shoes', events: 7, users: 1 }]);
  });

  it('gets a refused parameter as the typed 400', async () => {
    const r = await userEvents(query, USER, { from: NEXT_DAY, to: DAY });
    expect(r.status).toBe(400);
    expect(r.error).toMatchObject({ error: 'invalid_parameter', parameter: 'from' });
  });
});

const GENERATOR_PROBLEM = openapiGeneratorProblem();
const PYTHON = generatedClientPython();

describe("a python client: OpenAPI Generator's python", () => {
  if (GENERATOR_PROBLEM !== null) return void it.skip(GENERATOR_PROBLEM, () => {});
  let generated: Generated;

  beforeAll(async () => {
    generated = await generatePython(await ensureOpenapiGenerator(), path.join(work.path, 'python'));
  }, 300_000);

  it('is generated with no warning that means broken code', () => {
    const unexplained = generated.warnings.filter((w) => !HARMLESS_WARNINGS.some(([re]) => re.test(w)));
    expect(unexplained).toEqual([]);
  });

  if (PYTHON === null) return void it.skip(GENERATED_CLIENT_PYTHON_MISSING, () => {});
  it('pages, reads the rollups and /healthz, and refuses from >= to, through its models', async () => {
    interface Report {
      page1: Record<string, unknown>[];
      page1_cursor: string | null;
      page2: Record<string, unknown>[];
      page2_cursor: string | null;
      raw_page1: { events: Record<string, unknown>[] };
      rollups: Record<string, unknown>[];
      health: unknown;
      refused: { status: number; body: unknown } | null;
    }
    const r = await runPythonScript<Report>(PYTHON!, 'openapi-python.py', {
      client_dir: generated.dir,
      query_url: server!.queryUrl,
      read_key: 'dev-read-key',
      user: USER,
      from: DAY,
      to: NEXT_DAY,
      event: VIEWED,
    });
    expect([...r.page1, ...r.page2].map((e) => e.timestamp)).toEqual(VIEW_TIMES.slice(1).reverse().map((t) => t.replace('T', ' ').replace('.000Z', '+00:00')));
    expect(r.page1_cursor).not.toBeNull();
    expect(r.page2_cursor).not.toBeNull();
    // The model knows every field of the reply (none dropped as unknown), and no other.
    for (const [i, raw] of r.raw_page1.events.entries()) expect(keys(r.page1[i]!)).toEqual(keys(raw));
    expect(r.rollups).toContainEqual({ day: DAY, type: 'track', key: VIEWED, events: 5, users: 1 });
    expect(r.health).toEqual({ status: 'ok' });
    expect(r.refused).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_parameter', parameter: 'from' }) });
  });
});
