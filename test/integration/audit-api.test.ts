// GET /v1/audit against real chDB: the trail's rows newest first, and a read that cannot get the
// engine (a BI tool's statement holds it, or ClickHouse fails) answers 503 clickhouse_unavailable
// within QUERY_TIMEOUT_MS instead of waiting for the engine or failing with a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes, type AdminDeps } from '../../src/regulations/index.js';
import { ADMIN_KEY, startHarness, type Harness } from './query-helpers.js';

const T0 = Date.UTC(2026, 10, 1, 12);
const rows = [
  { time: T0, actor: 'dpo', action: 'regulation.requested', id: 'reg_1', scope: '{"type":"delete","users":["ab"]}', counts: '{"users":1}', outcome: 'accepted', kafka_offset: 0 },
  { time: T0 + 2000, actor: 'dpo', action: 'regulation.finished', id: 'reg_1', scope: '{"type":"delete","users":["ab"]}', counts: '{"events":3}', outcome: 'ok', kafka_offset: 1 },
];
const expected = [
  { time: new Date(T0 + 2000).toISOString(), actor: 'dpo', action: 'regulation.finished', id: 'reg_1', scope: { type: 'delete', users: ['ab'] }, counts: { events: 3 }, outcome: 'ok' },
  { time: new Date(T0).toISOString(), actor: 'dpo', action: 'regulation.requested', id: 'reg_1', scope: { type: 'delete', users: ['ab'] }, counts: { users: 1 }, outcome: 'accepted' },
];

describe('GET /v1/audit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      routes: [
        adminRoutes({
          adminKeys: new Map([[ADMIN_KEY, 'tester']]),
          // Far below the BI statement's 3 s below, far above an audit read on a loaded host.
          timeoutMs: 1000,
          deps: () => (h === undefined ? null : ({ clickhouse: h.ch.client, copier: null } as unknown as AdminDeps)),
        }),
      ],
    });
    await h.ch.client.insert({ table: 'audit_log', values: rows, format: 'JSONEachRow' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers the trail newest first', async () => {
    const r = await h.get('/v1/audit', ADMIN_KEY);
    expect([r.status, r.body]).toEqual([200, { records: expected }]);
  });

  it('answers 503 once QUERY_TIMEOUT_MS passes while the engine runs a BI statement, and the trail again once it is free', async () => {
    let biDone = false;
    const bi = h.ch.biClient.query({ query: 'SELECT sleep(3)', format: 'TabSeparated' }).then((rs) => {
      biDone = true;
      return rs.text();
    });
    await new Promise((r) => setTimeout(r, 100));
    const waited = await h.get('/v1/audit', ADMIN_KEY);
    expect([waited.status, waited.headers.get('retry-after'), biDone]).toEqual([503, '1', false]);
    expect(waited.body).toMatchObject({ error: 'clickhouse_unavailable' });
    expect(await bi).toBe('0\n');
    const again = await h.get('/v1/audit', ADMIN_KEY);
    expect([again.status, again.body]).toEqual([200, { records: expected }]);
  });

  it('answers 503 with Retry-After, not 500, when ClickHouse fails', async () => {
    await h.ch.close(); // every statement from now on fails
    const r = await h.get('/v1/audit', ADMIN_KEY);
    expect([r.status, r.headers.get('retry-after')]).toEqual([503, '1']);
    expect(r.body).toMatchObject({ error: 'clickhouse_unavailable' });
  });
});
