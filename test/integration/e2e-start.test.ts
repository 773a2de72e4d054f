// The all-in-one as a user runs it: `trackhouse start` on a fresh data dir (its own local Kafka),
// events from the official Segment Node SDK and from the curl command the banner prints, read
// back through the query API with every filter and across pages, rollups checked against what
// was sent and read by a BI tool's client on the SQL port, Ctrl-C, and a second start that finds
// the first one's data.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Analytics } from '@segment/analytics-node';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THREAD } from '../../src/common/threads.js';
import { freePort } from '../../src/localkafka/index.js';
import { helloPacket } from '../support/bi-engine.js';
import { RUN_TZ, tempDir } from '../support/env.js';
import { threadsOf } from '../support/threads.js';
import { metricsText, metricValue } from './ingest-support.js';

const MAIN = path.resolve('dist/cli/main.js');
const DAY = 86_400_000;

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  exited: Promise<number>;
}

/** What the native SQL port sends to a hello with the dev read key (revision 54460), until its own hello is whole or 5 s pass. */
function nativeHello(port: number): Promise<Buffer> {
  const hello = helloPacket('dev-read-key');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(hello));
    const got: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (d: Buffer) => {
      got.push(d);
      if (Buffer.concat(got).includes(Buffer.from('trackhouse'))) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

async function startAllInOne(dataDir: string, ports: Record<string, number>, extraEnv: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [MAIN, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...RUN_TZ,
      TRACKHOUSE_DATA_DIR: dataDir,
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      SINK_PORT: String(ports.sink),
      BI_PORT: String(ports.bi ?? 0),
      BI_NATIVE_PORT: String(ports.biNative ?? 0),
      LOCAL_KAFKA_PORT: '0',
      LOCAL_KAFKA_CONTROLLER_PORT: '0',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  const deadline = Date.now() + 150_000;
  while (!out.includes('Ctrl-C drains and stops everything')) {
    if (child.exitCode !== null) throw new Error(`trackhouse start exited with ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`trackhouse start did not come up:\n${out}\n${err}`);
    await sleep(100);
  }
  return { child, stdout: () => out, exited };
}

/** The curl commands of the banner's "Try it:" block, joined across line continuations. */
function bannerCurls(stdout: string): string[] {
  const block = stdout.slice(stdout.indexOf('Try it:') + 'Try it:'.length, stdout.indexOf('Ctrl-C drains'));
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('curl '));
}

async function getJson(url: string, readKey = 'dev-read-key'): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${readKey}` } });
  return { status: res.status, body: await res.json() };
}

describe('trackhouse start (all-in-one), end to end', () => {
  const dir = tempDir('trackhouse-e2e-');
  const ports: Record<string, number> = {};
  let run: Running | undefined;
  let ingestUrl = '';
  let queryUrl = '';
  const now = Date.now();
  const day0 = new Date(Math.floor(now / DAY) * DAY - 2 * DAY); // midnight UTC, two days ago
  const at = (d: number, h: number) => new Date(day0.getTime() + d * DAY + h * 3_600_000);

  beforeAll(async () => {
    ports.ingest = await freePort();
    ports.query = await freePort();
    ports.sink = await freePort();
    ports.bi = await freePort();
    ports.biNative = await freePort();
    ingestUrl = `http://127.0.0.1:${ports.ingest}`;
    queryUrl = `http://127.0.0.1:${ports.query}`;
    run = await startAllInOne(dir.path, ports);
  });

  afterAll(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGINT');
      await run.exited;
    }
    dir.remove();
  });

  it('comes up on a fresh data dir without a warning or an error line (what a new user reads first)', () => {
    const upToBanner = run!.stdout().slice(0, run!.stdout().indexOf('Ctrl-C drains'));
    const loud = upToBanner
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level >= 40);
    expect(loud.map((l) => l.msg)).toEqual([]);
    expect(upToBanner).toContain('trackhouse ');
  });

  it('prints the URLs and dev keys, and its curl command works when pasted', async () => {
    const out = run!.stdout();
    expect(out).toContain(ingestUrl);
    expect(out).toContain(queryUrl);
    expect(out).toContain('dev-write-key');
    expect(out).toContain('dev-read-key');
    const [send, read] = bannerCurls(out);
    expect(send).toContain('/v1/track');
    const sent = spawnSync('sh', ['-c', `${send} -s -w ' %{http_code}'`], { encoding: 'utf8' });
    expect(sent.stdout.trim()).toBe('{"success":true} 200');
    // The read command shows the event once the sink has flushed (well under the deadline).
    let events: any[] = [];
    for (let i = 0; i < 100 && events.length === 0; i++) {
      const r = spawnSync('sh', ['-c', `${read} -s`], { encoding: 'utf8' });
      events = (JSON.parse(r.stdout) as { events: any[] }).events;
      if (events.length === 0) await sleep(200);
    }
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'track', event: 'Signed Up', user_id: 'user-1', source: 'dev', category: 'signup' });
  });

  it('counts the banner event in the live volume on the query port (the stream component it hosts)', async () => {
    let rows: any[] = [];
    for (let i = 0; i < 150 && rows.length === 0; i++) {
      const r = await getJson(`${queryUrl}/v1/volume?by=event&window=day&event=${encodeURIComponent('Signed Up')}`);
      // 503 stream_unavailable while the stream's thread starts (documented); anything else is an answer.
      if (r.status === 503 && r.body.error === 'stream_unavailable') {
        await sleep(200);
        continue;
      }
      expect(r.status).toBe(200);
      rows = r.body.rows;
      if (rows.length === 0) await sleep(200);
    }
    expect(rows).toEqual([expect.objectContaining({ key: 'Signed Up', type: 'track', events: 1, users: 1, late: 0 })]);
    const alerts = await getJson(`${queryUrl}/v1/alerts`);
    expect(alerts.status).toBe(200);
    expect(alerts.body).toMatchObject({ rules: [], notifications: [] });
    expect((await getJson(`${queryUrl}/v1/volume`, 'wrong-key')).status).toBe(401);
    // The stream runs in its own thread; its metrics are still on the query port, with the query's labels.
    const metrics = await (await fetch(`${queryUrl}/metrics`)).text();
    const took = /^trackhouse_stream_records_total\{topic="events",component="query"\} (\d+)$/m.exec(metrics);
    expect(Number(took?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('delivers Segment SDK and curl events to the query API, with every filter, across pages, and into the rollups', async () => {
    const analytics = new Analytics({ writeKey: 'dev-write-key', host: ingestUrl, flushAt: 5, flushInterval: 100, maxRetries: 2 });
    // alice: 4 tracks over 3 days (2 categories, group g1), 1 identify, 1 page; bob: 2 tracks, 1 group call.
    analytics.identify({ userId: 'alice', traits: { plan: 'pro' }, timestamp: at(0, 1) });
    analytics.track({ userId: 'alice', event: 'Product Viewed', properties: { category: 'shoes', sku: 'a1' }, context: { groupId: 'g1' }, timestamp: at(0, 2) });
    analytics.track({ userId: 'alice', event: 'Product Viewed', properties: { category: 'hats', sku: 'h1' }, context: { groupId: 'g1' }, timestamp: at(1, 3) });
    analytics.page({ userId: 'alice', name: 'Pricing', properties: { path: '/pricing' }, timestamp: at(1, 4) });
    analytics.track({ userId: 'alice', event: 'Order Completed', properties: { category: 'shoes', total: 42 }, context: { groupId: 'g1' }, timestamp: at(2, 5) });
    analytics.group({ userId: 'bob', groupId: 'g2', traits: { name: 'Acme' }, timestamp: at(0, 6) });
    analytics.track({ userId: 'bob', event: 'Product Viewed', properties: { category: 'shoes' }, timestamp: at(0, 7) });
    await analytics.closeAndFlush({ timeout: 20_000 });

    // And a batch through curl, as a shell script would send it.
    const batch = JSON.stringify({
      batch: [
        { type: 'track', userId: 'alice', event: 'Product Viewed', properties: { category: 'shoes' }, context: { groupId: 'g1' }, timestamp: at(2, 8).toISOString(), messageId: 'curl-1' },
        { type: 'track', userId: 'bob', event: 'Order Completed', properties: { category: 'hats' }, timestamp: at(2, 9).toISOString(), messageId: 'curl-2' },
      ],
    });
    const curl = spawnSync(
      'curl',
      ['-s', '-w', ' %{http_code}', '-u', 'dev-write-key:', '-H', 'Content-Type: application/json', '--data-binary', batch, `${ingestUrl}/v1/batch`],
      { encoding: 'utf8' },
    );
    expect(curl.stdout.trim()).toBe('{"success":true} 200');

    const aliceUrl = `${queryUrl}/v1/users/alice/events`;
    let all: any[] = [];
    for (let i = 0; i < 150 && all.length < 6; i++) {
      all = (await getJson(`${aliceUrl}?limit=1000`)).body.events;
      if (all.length < 6) await sleep(200);
    }
    // Newest first. The SDK sends sentAt, so its timestamps are shifted by the request's transit
    // time (Segment's skew correction); curl's batch has no sentAt and keeps its exact times.
    const expected = [at(2, 8), at(2, 5), at(1, 4), at(1, 3), at(0, 2), at(0, 1)];
    expect(all).toHaveLength(6);
    all.forEach((e, i) => expect(Math.abs(Date.parse(e.timestamp) - expected[i]!.getTime())).toBeLessThan(2_000));
    expect(all[0].timestamp).toBe(at(2, 8).toISOString());
    for (const e of all) {
      expect(e.source).toBe('dev');
      expect(e.user_id).toBe('alice');
      expect(typeof e.properties).toBe('object');
      expect(typeof e.context).toBe('object');
      expect(e.received_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }

    // Filters: type, event, from (inclusive) / to (exclusive).
    expect((await getJson(`${aliceUrl}?type=identify`)).body.events.map((e: any) => e.type)).toEqual(['identify']);
    expect((await getJson(`${aliceUrl}?type=page`)).body.events[0]).toMatchObject({ type: 'page' });
    const viewed = (await getJson(`${aliceUrl}?event=${encodeURIComponent('Product Viewed')}`)).body.events;
    expect(viewed.map((e: any) => e.category)).toEqual(['shoes', 'hats', 'shoes']);
    const day1 = (await getJson(`${aliceUrl}?from=${encodeURIComponent(at(1, 0).toISOString())}&to=${encodeURIComponent(at(1, 4).toISOString())}`)).body.events;
    expect(day1.map((e: any) => e.event)).toEqual(['Product Viewed']);
    const fromExact = (await getJson(`${aliceUrl}?from=${encodeURIComponent(at(2, 8).toISOString())}`)).body.events;
    expect(fromExact.map((e: any) => e.event_id)).toEqual(['curl-1']);
    const toExact = (await getJson(`${aliceUrl}?from=${encodeURIComponent(at(2, 0).toISOString())}&to=${encodeURIComponent(at(2, 8).toISOString())}`)).body.events;
    expect(toExact.map((e: any) => e.event)).toEqual(['Order Completed']);

    // Pages of 2: every event once, newest first, then next_cursor null.
    const paged: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: any } = await getJson(`${aliceUrl}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      paged.push(...r.body.events);
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(paged.map((e) => e.event_id)).toEqual(all.map((e) => e.event_id));

    // Rollups against what was sent (user-1's banner event is on today's date, outside these days).
    const range = `from=${encodeURIComponent(at(0, 0).toISOString())}&to=${encodeURIComponent(at(3, 0).toISOString())}`;
    const total = (rows: any[], key: string) => rows.filter((r) => r.key === key).reduce((n, r) => n + r.events, 0);
    const rollups = async (by: string): Promise<any[]> => (await getJson(`${queryUrl}/v1/rollups/daily?by=${by}&${range}`)).body.rows;
    // The pages above came from the query API's view, which reads Kafka itself and may be ahead of
    // the sink: the rollups are ClickHouse's, so wait (bounded) until the sink has inserted them all.
    let byEvent: any[] = [];
    let byCategory: any[] = [];
    let byGroup: any[] = [];
    for (let i = 0; i < 150; i++) {
      [byEvent, byCategory, byGroup] = await Promise.all([rollups('event'), rollups('category'), rollups('group')]);
      const landed = total(byEvent, 'Product Viewed') + total(byEvent, 'Order Completed') + total(byCategory, 'shoes') + total(byCategory, 'hats') + total(byGroup, 'g1') + total(byGroup, 'g2');
      if (landed >= 6 + 6 + 5) break;
      await sleep(200);
    }
    const viewedRows = byEvent.filter((r: any) => r.key === 'Product Viewed');
    expect(viewedRows.map((r: any) => [r.day, r.events, r.users])).toEqual([
      [at(0, 0).toISOString().slice(0, 10), 2, 2],
      [at(1, 0).toISOString().slice(0, 10), 1, 1],
      [at(2, 0).toISOString().slice(0, 10), 1, 1],
    ]);
    expect(total(byCategory, 'shoes')).toBe(4);
    expect(total(byCategory, 'hats')).toBe(2);
    expect(total(byGroup, 'g1')).toBe(4);
    expect(total(byGroup, 'g2')).toBe(1);
  });

  it('serves the same rollups to a BI tool\'s ClickHouse client on the SQL port the banner names, read-only', async () => {
    const biUrl = `http://127.0.0.1:${ports.bi}`;
    expect(run!.stdout()).toContain(`sql      ${biUrl}`);
    const range = `from=${encodeURIComponent(at(0, 0).toISOString())}&to=${encodeURIComponent(at(3, 0).toISOString())}`;
    const rest = (await getJson(`${queryUrl}/v1/rollups/daily?by=event&${range}`)).body.rows as { day: string; type: string; key: string; events: number; users: number }[];
    const bi = createClient({ url: biUrl, username: 'metabase', password: 'dev-read-key', log: { level: ClickHouseLogLevel.OFF } });
    try {
      const rows = await (
        await bi.query({
          query:
            // The query API's key: the event's name, or the call's type for calls without one (one source here, so users add up).
            "SELECT day, type, if(event = '', type, event) AS key, toUInt32(sum(events)) AS events, toUInt32(sum(users)) AS users " +
            'FROM events_daily_by_event_v WHERE day >= {from:Date} AND day < {to:Date} GROUP BY day, type, event',
          query_params: { from: at(0, 0).toISOString().slice(0, 10), to: at(3, 0).toISOString().slice(0, 10) },
          format: 'JSONEachRow',
        })
      ).json<{ day: string; type: string; key: string; events: number; users: number }>();
      expect(rows.length).toBeGreaterThanOrEqual(4);
      const byDayAndKey = (a: { day: string; key: string }, b: { day: string; key: string }) => `${a.day} ${a.key}`.localeCompare(`${b.day} ${b.key}`);
      expect(rows.sort(byDayAndKey)).toEqual([...rest].sort(byDayAndKey));
      await expect(bi.command({ query: 'TRUNCATE TABLE events' })).rejects.toMatchObject({ code: '164' });
    } finally {
      await bi.close();
    }
    // The native protocol's port the banner names answers a hello with the read key (clients: sql-port.test.ts).
    expect(run!.stdout()).toContain(`native   127.0.0.1:${ports.biNative}`);
    const serverHello = await nativeHello(ports.biNative!);
    expect([serverHello[0], serverHello.includes(Buffer.from('trackhouse'))]).toEqual([0, true]);
  });

  it("keeps the per-user API fresh and the sink's inserts ahead while BI statements queue for chDB", async () => {
    // chDB runs one statement at a time: four slow ones, each ended by its own 8 s limit, queue
    // for 32 s. Waiting inside chDB they held libuv's four pool threads, which the view's LMDB
    // commits need too: a fresh event showed only as the first statement ended. Now it shows
    // while that one runs, and the sink's insert goes right after it, ahead of the other three
    // (they had queued before it). Each check is a margin between two moments of this run, not a
    // speed: the view takes milliseconds, a statement its 8 s.
    const user = `fresh-during-bi-${Date.now()}`;
    const track = async (event: string) => {
      const sent = await fetch(`${ingestUrl}/v1/track`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('dev-write-key:').toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: user, event }),
      });
      expect(sent.status).toBe(200);
    };
    const inserted = async () => metricValue(await metricsText(`http://127.0.0.1:${ports.sink}`), 'trackhouse_sink_rows_inserted_total');
    // First an event of the same user, so the sink has read its partition's floor and recent ids
    // (once per partition, each a statement of its own) and the next one costs it a single insert.
    await track('Warm Up');
    let rows = (await getJson(`${queryUrl}/v1/rollups/daily?by=event`)).body.rows as { key: string }[];
    for (let i = 0; i < 300 && !rows.some((r) => r.key === 'Warm Up'); i++) {
      await sleep(100);
      rows = (await getJson(`${queryUrl}/v1/rollups/daily?by=event`)).body.rows as { key: string }[];
    }
    expect(rows.some((r) => r.key === 'Warm Up')).toBe(true);
    const before = await inserted();

    const slow = 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 1';
    const bi = `http://127.0.0.1:${ports.bi}/?user=metabase&password=dev-read-key&max_execution_time=8`;
    const answeredAt: number[] = [];
    const statements = Array.from({ length: 4 }, () =>
      fetch(bi, { method: 'POST', body: slow }).then(async (r) => {
        answeredAt.push(performance.now());
        return [r.status, (await r.text()).slice(0, 40)];
      }),
    );
    await sleep(500);
    await track('Fresh During BI');
    let visibleAt = Infinity;
    while (visibleAt === Infinity && answeredAt.length === 0) {
      const page = await getJson(`${queryUrl}/v1/users/${user}/events`);
      if ((page.body.events as { event: string }[] | undefined)?.some((e) => e.event === 'Fresh During BI')) visibleAt = performance.now();
      else await sleep(20);
    }
    let insertedAt = Infinity;
    while (insertedAt === Infinity && answeredAt.length < 4) {
      if ((await inserted()) > before) insertedAt = performance.now();
      else await sleep(50);
    }
    const answers = await Promise.all(statements);
    expect(answers).toEqual(Array.from({ length: 4 }, () => [408, expect.stringContaining('Code: 159.')]));
    expect(answeredAt[0]! - visibleAt).toBeGreaterThan(2_000);
    expect(answeredAt[1]! - insertedAt).toBeGreaterThan(2_000);
  });

  it("lowers chDB's and the sink's threads, not libuv's pool, which runs the view's LMDB commits", () => {
    const threads = threadsOf(run!.child.pid!);
    const nices = (name: string) => threads.filter((t) => t.name === name).map((t) => t.nice);
    // chDB renames a pool thread that ran one of its queries "Unknown": the sink's inserts and the
    // BI port's queries above ran on them. They were lowered by that name until 2026-12-05.
    expect(nices('Unknown').length, 'libuv pool threads renamed by chDB').toBeGreaterThan(0);
    expect(new Set(nices('Unknown'))).toEqual(new Set([0]));
    expect(new Set(nices('MergeMutate'))).toEqual(new Set([10]));
    expect(new Set(nices(THREAD.sinkDecode))).toEqual(new Set([10]));
    expect(new Set(nices(THREAD.viewBuilder))).toEqual(new Set([0]));
  });

  it('Ctrl-C stops every part, Kafka included, with exit code 0, and a second start finds the data', async () => {
    const statePath = path.join(dir.path, 'kafka', 'local', 'broker.json');
    const kafkaPid = (JSON.parse(readFileSync(statePath, 'utf8')) as { pid: number }).pid;
    run!.child.kill('SIGINT');
    expect(await run!.exited).toBe(0);
    expect(() => process.kill(kafkaPid, 0)).toThrow();
    await expect(fetch(`http://127.0.0.1:${ports.bi}/ping`)).rejects.toThrow();
    await expect(nativeHello(ports.biNative!)).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(statePath)).toBe(false);

    run = await startAllInOne(dir.path, ports);
    const again = (await getJson(`${queryUrl}/v1/users/alice/events`)).body.events;
    expect(again).toHaveLength(6);
  });
});

describe('trackhouse start with KAFKA_BROKERS', () => {
  const dir = tempDir('trackhouse-e2e-ext-');
  let run: Running | undefined;
  afterAll(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGINT');
      await run.exited;
    }
    dir.remove();
  });

  it('uses the given cluster instead of starting a local broker', async () => {
    const { kafkaBrokers, uniqueTopicEnv } = await import('../support/env.js');
    const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort() };
    run = await startAllInOne(dir.path, ports, { KAFKA_BROKERS: kafkaBrokers().join(','), ...uniqueTopicEnv('e2e') });
    expect(run.stdout()).toContain(`kafka    ${kafkaBrokers().join(',')}`);
    expect(existsSync(path.join(dir.path, 'kafka'))).toBe(false);
    const res = await fetch(`http://127.0.0.1:${ports.ingest}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('dev-write-key:').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'ext-user', event: 'External' }),
    });
    expect(res.status).toBe(200);
    let events: any[] = [];
    for (let i = 0; i < 100 && events.length === 0; i++) {
      events = (await getJson(`http://127.0.0.1:${ports.query}/v1/users/ext-user/events`)).body.events;
      if (events.length === 0) await sleep(200);
    }
    expect(events.map((e) => e.event)).toEqual(['External']);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });
});
