// Erasure holds across trackhouse's own design, against the real broker and chDB: events of
// several users are sunk and viewed; one user is erased through POST /v1/regulations; then
// nothing of that user is in `events`, in any rollup (each equal to a rebuild from `events`) or in
// the query API, while every other user's events and counts are unchanged, and it stays so after
// a replay of the whole topic from its beginning, after a restart of the sink and the query API,
// and in a view built again from Kafka from scratch. The regulation and its completion are in
// the audit trail, with the user as a hash.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryComponent, sinkComponent, erasuresPart, type QueryComponent, type SinkComponent } from '../../src/cli/components.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { userHash, type ErasureReader } from '../../src/erasure/index.js';
import { startIngest } from '../../src/ingest/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { runReplay } from '../../src/replay/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { post, TopicReader } from './ingest-support.js';
import { caughtUp, count, expectedTally, produce, tally, testEvent, waitFor } from './sink-helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const READ = 'test-read-key';
const ADMIN = 'test-admin-key';
const ERASED = 'user-5';
const FROM = '2000-01-01T00:00:00Z';
const TO = '2100-01-01T00:00:00Z';

interface Running {
  erasures: ErasureReader & { stopPart(): Promise<void> };
  sink: SinkComponent;
  query: QueryComponent;
}

describe('erasure', () => {
  const dir = tempDir();
  const viewDirs: ReturnType<typeof tempDir>[] = [];
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let run: Running;
  const events: EventRecord[] = Array.from({ length: 600 }, (_, i) => testEvent(i));
  const kept = events.filter((e) => (e.user_id ?? e.anonymous_id) !== ERASED);
  const erased = events.length - kept.length;
  const others = [...new Set(kept.map((e) => e.user_id ?? e.anonymous_id!))];
  let before = new Map<string, string[]>();

  /** Sink and query API as the all-in-one runs them: one erasure list for both. */
  const start = async (cfg: Config): Promise<Running> => {
    const e = await erasuresPart(kafka, cfg, silentLogger());
    const sink = await sinkComponent({ config: cfg, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false), erasures: e.reader });
    const query = await queryComponent({ config: cfg, brokers: cfg.kafka.brokers as string[], clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false), erasures: e.reader });
    await waitFor('the view to catch up', async () => query.view.caughtUp(), 240_000);
    return { erasures: { ...e.reader, stopPart: () => e.part.stop() }, sink, query };
  };
  const stop = async (r: Running) => {
    await r.query.stop();
    await r.sink.stop();
    await r.erasures.stopPart();
  };
  const ids = async (port: number, user: string): Promise<string[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/users/${encodeURIComponent(user)}/events?from=${FROM}&to=${TO}&limit=1000`, { headers: { authorization: `Bearer ${READ}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { events: { event_id: string }[] }).events.map((e) => e.event_id).sort();
  };
  const apiOfAll = async (port: number) => {
    const out = new Map<string, string[]>();
    for (const u of others) out.set(u, await ids(port, u));
    return out;
  };
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${run.query.port}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const expectNothingOfErased = async (port: number) => {
    expect(await count(ch.client, `SELECT count() FROM events WHERE user_key = '${ERASED}'`)).toBe(0);
    expect(await count(ch.client, `SELECT count() FROM sink_recent_ids WHERE user_key = '${ERASED}'`)).toBe(0);
    expect(await ids(port, ERASED)).toEqual([]);
    // Every rollup equals a rebuild from `events`, and the totals are those of the other users' events.
    expect(await tally(ch.client)).toEqual(expectedTally(kept));
    expect(await apiOfAll(port)).toEqual(before);
  };

  beforeAll(async () => {
    config = testConfig(dir.path, { SINK_BATCH_MS: '100', TRACKHOUSE_ADMIN_KEYS: `${ADMIN}:dpo` });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    run = await start(config);
    await produce(kafka, config.kafka.topics.events, events);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await waitFor('the view to hold every event', async () => (run.query.view.report()?.counts.applied ?? 0) >= events.length);
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    expect((await ids(run.query.port, ERASED)).length).toBe(erased);
    before = await apiOfAll(run.query.port);
  }, 300_000);
  afterAll(async () => {
    if (run) await stop(run).catch(() => {});
    await ch?.close();
    for (const d of [dir, ...viewDirs]) d.remove();
  });

  it('refuses a request without an admin key, and names the bad field', async () => {
    const url = `http://127.0.0.1:${run.query.port}/v1/regulations`;
    const body = JSON.stringify({ type: 'delete', user_ids: [ERASED] });
    expect((await fetch(url, { method: 'POST', body })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', body, headers: { authorization: `Bearer ${READ}` } })).status).toBe(401);
    const bad = await admin('/v1/regulations', { method: 'POST', body: JSON.stringify({ type: 'forget', user_ids: [ERASED] }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_parameter', parameter: 'type' });
    const none = await admin('/v1/regulations', { method: 'POST', body: JSON.stringify({ type: 'delete', user_ids: [] }) });
    expect(await none.json()).toMatchObject({ parameter: 'user_ids' });
    expect((await admin('/v1/regulations/reg_nope')).status).toBe(404);
    expect((await admin('/v1/audit', { method: 'DELETE' })).status).toBe(405);
  });

  it('deletes the user from events, rollups and the per-user API, and leaves everyone else as they were', { timeout: 120_000 }, async () => {
    const res = await admin('/v1/regulations', { method: 'POST', body: JSON.stringify({ type: 'delete', user_ids: [ERASED] }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await waitFor(
      'the regulation to finish',
      async () => {
        const r = (await (await admin(`/v1/regulations/${id}`)).json()) as { status: string; counts: unknown };
        return r.status === 'finished' ? r : undefined;
      },
      90_000,
    );
    expect(done).toMatchObject({ id, type: 'delete', status: 'finished', actor: 'dpo', users: 1, counts: { events: erased, rollup_days: 5, view_events: erased } });
    await expectNothingOfErased(run.query.port);

    const audit = (await (await admin('/v1/audit?from=2000-01-01T00:00:00Z')).json()) as { records: { action: string; actor: string; id: string; scope: { users: string[] }; counts: Record<string, number> }[] };
    const mine = audit.records.filter((r) => r.id === id);
    expect(mine.map((r) => r.action).sort()).toEqual(['regulation.finished', 'regulation.requested']);
    for (const r of mine) {
      expect(r.actor).toBe('dpo');
      expect(r.scope.users).toEqual([userHash(ERASED)]);
      expect(JSON.stringify(r)).not.toContain(ERASED);
    }
    expect(mine.find((r) => r.action === 'regulation.finished')!.counts.events).toBe(erased);
    const finishedOnly = (await (await admin('/v1/audit?action=regulation.finished')).json()) as { records: { action: string }[] };
    expect(finishedOnly.records.every((r) => r.action === 'regulation.finished')).toBe(true);
  });

  it('keeps the user out when the whole topic is replayed from its beginning', { timeout: 120_000 }, async () => {
    const summary = await runReplay({ config, kafka, clickhouse: ch.client, log: silentLogger(), from: { kind: 'time', ms: 0 } });
    expect(summary.erased).toBe(erased);
    expect(summary.inserted).toBe(0);
    await expectNothingOfErased(run.query.port);
  });

  it('keeps the user out after a restart of the sink and the query API, and in a view built again from Kafka', { timeout: 300_000 }, async () => {
    await stop(run);
    // The sink's group offsets go back to the start, as after a reset: every record is read again.
    const adm = kafka.admin();
    await adm.connect();
    await adm.resetOffsets({ groupId: config.sink.groupId, topic: config.kafka.topics.events, earliest: true });
    await adm.disconnect();
    run = await start(config);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    await expectNothingOfErased(run.query.port);
    // A new replica: its view is built from Kafka from scratch, with the list loaded first.
    const d = tempDir();
    viewDirs.push(d);
    const fresh = await queryComponent({
      config: testConfig(d.path, { ...topicsOf(config), TRACKHOUSE_ADMIN_KEYS: `${ADMIN}:dpo` }),
      brokers: config.kafka.brokers as string[],
      clickhouse: ch.client,
      log: silentLogger(),
      registry: createRegistry('q', false),
    });
    try {
      await waitFor('the new view to catch up', async () => fresh.view.caughtUp(), 240_000);
      expect(fresh.view.report()!.counts.erased).toBe(erased);
      expect(await ids(fresh.port, ERASED)).toEqual([]);
      expect(await apiOfAll(fresh.port)).toEqual(before);
    } finally {
      await fresh.stop();
    }
  });

  it('an import of a file holding the erased user\'s events loads the others and refuses theirs', { timeout: 180_000 }, async () => {
    const d = tempDir();
    viewDirs.push(d);
    const file = path.join(d.path, 'history.ndjson');
    const line = (userId: string, id: string) => JSON.stringify({ type: 'track', userId, event: 'Imported', messageId: id, timestamp: '2026-10-31T10:00:00Z' });
    writeFileSync(file, [line(ERASED, 'imp-1'), line('importer-user', 'imp-2'), line(ERASED, 'imp-3')].join('\n') + '\n');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'import', file], {
        cwd: root,
        env: { ...(process.env as Record<string, string>), ...topicsOf(config), KAFKA_BROKERS: config.kafka.brokers.join(','), KAFKA_PARTITIONS: String(config.kafka.partitions), TRACKHOUSE_DATA_DIR: d.path, LOG_LEVEL: 'warn' },
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b: Buffer) => (stdout += b));
      p.stderr.on('data', (b: Buffer) => (stderr += b));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout.trim().split('\n').pop()!) as { loaded: number; rejected: number; rejectedBy: Record<string, { count: number }> };
    expect(summary).toMatchObject({ loaded: 1, rejected: 2, rejectedBy: { user_erased: { count: 2 } } });
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    expect(await count(ch.client, "SELECT count() FROM events WHERE user_key = 'importer-user'")).toBe(1);
    expect(await count(ch.client, `SELECT count() FROM events WHERE user_key = '${ERASED}'`)).toBe(0);
    const audit = (await (await admin('/v1/audit?action=import')).json()) as { records: { actor: string; counts: Record<string, number>; outcome: string }[] };
    expect(audit.records).toEqual([expect.objectContaining({ actor: 'process:import', outcome: 'ok', counts: expect.objectContaining({ loaded: 1, rejected: 2 }) })]);
  });

  it('suppress makes the edge refuse the user\'s new events: to the rejected topic with the reason, counted, never stored', { timeout: 180_000 }, async () => {
    const QUIET = 'quiet-user';
    const ingest = await startIngest({ config, log: silentLogger(), registry: createRegistry('ingest', false), brokers: config.kafka.brokers as string[] });
    const rejected = await new TopicReader(kafka, [config.kafka.topics.rejected]).start();
    try {
      const url = `http://127.0.0.1:${ingest.port}`;
      const track = (id: string) => post(`${url}/v1/track`, JSON.stringify({ userId: QUIET, event: 'Ping', messageId: id }));
      const res = await admin('/v1/regulations', { method: 'POST', body: JSON.stringify({ type: 'suppress', user_ids: [QUIET] }) });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ type: 'suppress', status: 'finished', users: 1 });
      const suppressedIds = (r: { headers: Record<string, string>; value: Buffer }) => r.headers.error_code === 'user_suppressed' && r.value.toString().includes(QUIET);
      // The edge learns the list from its topic: probe until it refuses.
      let n = 0;
      await waitFor('the edge to refuse the suppressed user', async () => {
        expect((await track(`probe-${n++}`)).status).toBe(200);
        return rejected.records.some((r) => r.topic === config.kafka.topics.rejected && suppressedIds(r));
      });
      for (const id of ['quiet-1', 'quiet-2', 'quiet-3']) {
        const r = await track(id);
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ success: true });
      }
      // By id: rejected probes may still be arriving.
      const late = await rejected.waitFor(config.kafka.topics.rejected, 3, (r) => suppressedIds(r) && /quiet-[123]/.test(r.value.toString()));
      expect(late).toHaveLength(3);
      for (const r of late) expect(r.headers).toMatchObject({ error_code: 'user_suppressed', reason: expect.stringContaining('suppressed'), endpoint: '/v1/track' });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const counted = Number(/trackhouse_ingest_events_rejected_total\{[^}]*code="user_suppressed"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
      expect(counted, metrics.split('\n').filter((l) => l.includes('rejected_total')).join('\n')).toBeGreaterThanOrEqual(3);
      await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
      expect(await count(ch.client, "SELECT count() FROM events WHERE event_id IN ('quiet-1', 'quiet-2', 'quiet-3')")).toBe(0);
    } finally {
      await rejected.stop();
      await ingest.stop();
    }
  });

  it('the sink skips the erased user\'s records stamped before the erasure that arrive late, and keeps their new events', { timeout: 120_000 }, async () => {
    const state = run.erasures.list.user(ERASED)!;
    expect(state.erasedUpTo).not.toBeNull();
    const late = [0, 1, 2].map((i) => testEvent(1000 + i, { user_id: ERASED, event_id: `late-${i}` }));
    const fresh = [0, 1].map((i) => testEvent(2000 + i, { user_id: ERASED, event_id: `new-${i}` }));
    // Record times as Kafka keeps them: the late ones before the erasure, the new ones after it.
    await produce(kafka, config.kafka.topics.events, [...late, ...fresh], (i) => (i < late.length ? state.erasedUpTo! - 60_000 : state.erasedUpTo! + 1_000));
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    const ids = (await (await ch.client.query({ query: `SELECT event_id FROM events WHERE user_key = '${ERASED}' ORDER BY event_id`, format: 'JSONEachRow' })).json<{ event_id: string }>()).map((r) => r.event_id);
    expect(ids).toEqual(['new-0', 'new-1']);
  });

  it("Segment's Public API regulation calls, as @segment/public-api-sdk-typescript 47 sends them, erase a user the same way", { timeout: 120_000 }, async () => {
    const GONE = 'user-9';
    const gone = events.filter((e) => (e.user_id ?? e.anonymous_id) === GONE).length;
    expect(gone).toBeGreaterThan(0);
    expect((await ids(run.query.port, GONE)).length).toBe(gone);
    // The SDK's requests byte for byte (captured from createWorkspaceRegulation and getRegulation).
    const sdk = (path: string, body?: string, key = ADMIN) =>
      fetch(`http://127.0.0.1:${run.query.port}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'User-Agent': 'Public API SDK 47.0.0 (TypeScript)', Accept: 'application/json', Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body,
      });
    const request = (regulationType: string) => `{"regulationType":"${regulationType}","subjectType":"USER_ID","subjectIds":["${GONE}"]}`;
    expect((await sdk('/regulations', request('SUPPRESS_WITH_DELETE'), READ)).status).toBe(401);
    // Refusals carry Segment's error envelope too: the SDK's unwrap() throws errors[0].
    const unsuppress = await sdk('/regulations', request('UNSUPPRESS'));
    expect([unsuppress.status, await unsuppress.json()]).toEqual([
      400,
      expect.objectContaining({ error: 'invalid_parameter', parameter: 'regulationType', errors: [{ type: 'invalid_parameter', field: 'regulationType', status: 400, message: expect.stringContaining('UNSUPPRESS') }] }),
    ]);
    const list = await sdk('/regulations?pagination.count=10');
    expect([list.status, await list.json()]).toEqual([405, expect.objectContaining({ errors: [expect.objectContaining({ type: 'method_not_allowed', status: 405 })] })]);

    const created = await sdk('/regulations', request('SUPPRESS_WITH_DELETE'));
    expect(created.status).toBe(200);
    const { data } = (await created.json()) as { data: { regulateId: string } };
    const done = await waitFor(
      'the regulation to finish',
      async () => {
        const r = (await (await sdk(`/regulations/${data.regulateId}`)).json()) as { data: { regulation: { overallStatus: string } } };
        return r.data.regulation.overallStatus === 'FINISHED' ? r : undefined;
      },
      90_000,
    );
    expect(done).toEqual({
      data: { regulation: { id: data.regulateId, workspaceId: 'trackhouse', overallStatus: 'FINISHED', createdAt: expect.any(String), finishedAt: expect.any(String), streamStatus: [] } },
    });
    expect(await (await admin(`/v1/regulations/${data.regulateId}`)).json()).toMatchObject({ type: 'suppress_with_delete', status: 'finished', actor: 'dpo', users: 1, counts: { events: gone } });
    expect(await ids(run.query.port, GONE)).toEqual([]);
    expect(await count(ch.client, `SELECT count() FROM events WHERE user_key = '${GONE}'`)).toBe(0);
    expect(run.erasures.list.user(GONE)).toMatchObject({ suppressed: true });
    const unknown = await sdk('/regulations/reg_nope');
    expect([unknown.status, await unknown.json()]).toEqual([404, expect.objectContaining({ error: 'not_found', errors: [expect.objectContaining({ type: 'not_found', status: 404 })] })]);
    // trackhouse's own routes keep their body.
    expect(await (await admin('/v1/regulations/reg_nope')).json()).toEqual({ error: 'not_found', message: 'no regulation "reg_nope"' });
  });
});

function topicsOf(c: Config): Record<string, string> {
  return {
    KAFKA_TOPIC_EVENTS: c.kafka.topics.events,
    KAFKA_TOPIC_REJECTED: c.kafka.topics.rejected,
    KAFKA_TOPIC_DLQ: c.kafka.topics.dlq,
    KAFKA_TOPIC_REGULATIONS: c.kafka.topics.regulations,
    KAFKA_TOPIC_AUDIT: c.kafka.topics.audit,
    SINK_GROUP_ID: c.sink.groupId,
  };
}
