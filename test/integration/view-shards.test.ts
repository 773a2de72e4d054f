// The split deployment with a partitioned view: two `trackhouse query` processes, each holding
// half of the partitions (QUERY_SHARDS=2), reaching ClickHouse through CLICKHOUSE_URL (chDB of
// this process, served over HTTP) and each other through QUERY_SHARD_URL. Every user is read
// through both shards: the shard that does not hold the user forwards the request to the one that
// does (by the producer's partitioner), and both answers equal ClickHouse's, byte for byte.
import { createServer } from 'node:net';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THREAD } from '../../src/common/threads.js';
import type { Config } from '../../src/config/index.js';
import { partitionForKey } from '../../src/kafka/index.js';
import type { QueryServer } from '../../src/query/index.js';
import type { ClickHouseHttp } from '../support/clickhouse-http.js';
import { exchange, type RawAnswer } from '../support/raw-http.js';
import { heapOf, SEMI_SPACE_16_MB } from '../support/heap.js';
import { tempDir } from '../support/env.js';
import { caughtUp, testEvent } from './sink-helpers.js';
import { allPages, DAY, randomEvents, splitBackend, type SplitBackend } from './view-helpers.js';
import { spawnQuery, type QueryProcess } from './view-process.js';
import { threadsOf } from '../support/threads.js';

const KEY = 'test-read-key';
const hostOf = (i: number) => `127.0.1${i}.1`;

/** Each thread of process `pid` as `name nice` (the main thread as `main nice`), sorted. */
function threadNices(pid: number): string[] {
  return threadsOf(pid)
    .map((t) => `${t.tid === pid ? 'main' : t.name} ${t.nice}`)
    .sort();
}

/** A port free on both shard addresses. */
async function freePortOnBoth(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer().listen(0, hostOf(0), () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
      s.once('error', reject);
    });
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer().listen(port, hostOf(1), () => s.close(() => resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (free) return port;
  }
}

/**
 * Users whose ids a client can put in the path in more than one way, each way as it goes on the
 * wire: dot segments (which a URL parser resolves away, escaped or not: curl --path-as-is and Go
 * send them), backslashes (a URL parser reads `\` as `/` in an http URL; curl sends them raw),
 * UTF-8 and `+` unencoded, and an encoded slash.
 */
const AWKWARD: readonly { id: string; paths: readonly string[] }[] = [
  { id: '.', paths: ['.', '%2E', '%2e'] },
  { id: '..', paths: ['..', '%2E%2E', '.%2e'] },
  { id: 'back\\slash\\', paths: ['back\\slash\\', 'back%5Cslash%5C'] },
  { id: '..\\..\\x', paths: ['..\\..\\x', '..%5C..%5Cx'] },
  { id: 'José', paths: ['José', 'Jos%C3%A9'] },
  { id: 'a+b@example.com', paths: ['a+b@example.com', 'a%2Bb%40example.com'] },
  { id: 'org/42', paths: ['org%2F42', 'org%2f42'] },
];

describe('two shards, each reading every user', () => {
  const dir = tempDir();
  const shardDirs = [tempDir(), tempDir()];
  let config: Config;
  let kafka: Kafka;
  let backend: SplitBackend;
  let http: ClickHouseHttp;
  let plain: QueryServer;
  const shards: QueryProcess[] = [];
  let port = 0;
  const now = Date.now();
  // Half the events older than the view keeps: those pages come from ClickHouse over HTTP.
  const data = randomEvents(21, 1200, 40, now - 8 * DAY, now);
  // Three events of each awkward user: two the view holds, one older than it (from ClickHouse).
  const awkward = AWKWARD.flatMap((u, k) =>
    [now - 1000, now - 2000, now - 8 * DAY].map((ts, j) => testEvent(k * 3 + j, { event_id: `evt/${k}-${j}?#% ü`, user_id: u.id, timestamp: ts, sent_at: null, received_at: ts })),
  );

  beforeAll(async () => {
    backend = await splitBackend(dir.path, [...data.events, ...awkward], { KAFKA_PARTITIONS: '4' });
    ({ config, kafka, http, plain } = backend);
    await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    port = await freePortOnBoth();
    for (const i of [0, 1]) {
      shards.push(
        spawnQuery({
          ...backend.queryEnv(shardDirs[i]!.path, KEY),
          HOST: hostOf(i),
          QUERY_PORT: String(port),
          QUERY_SHARDS: '2',
          QUERY_SHARD_INDEX: String(i),
          QUERY_SHARD_URL: `http://127.0.1{i}.1:${port}`,
          QUERY_VIEW_DAYS: '4',
          // Shard 1 with its background threads lowered (shard 0 as by default): both answer alike below.
          ...(i === 1 ? { QUERY_BACKGROUND_NICE: '10' } : {}),
        }),
      );
    }
    await Promise.all(shards.map((s) => s.ready()));
  });
  afterAll(async () => {
    await Promise.allSettled(shards.map((s) => s.stop()));
    await backend?.stop();
    for (const d of [dir, ...shardDirs]) d.remove();
  });

  it('each shard holds only its partitions', () => {
    const held = shards.map((s) => s.log.map((l) => /"msg":"view reading Kafka"/.test(l) && (JSON.parse(l) as { partitions: number[] }).partitions).find(Boolean));
    expect(held).toEqual([
      [0, 2],
      [1, 3],
    ]);
  });

  it('runs with the young generation of QUERY_NODE_OPTIONS: semi-spaces of up to 64 MB, not 16', () => {
    // V8's heap limit is the old generation's plus three semi-spaces (two, and as much for large
    // young objects): 64 MB semi-spaces instead of 16 MB add 144 MB to it.
    const plain = heapOf(SEMI_SPACE_16_MB).heapLimitMb;
    for (const i of [0, 1]) {
      const line = shards[i]!.log.find((l) => l.includes('"msg":"query API listening"'))!;
      expect((JSON.parse(line) as { heapLimitMb: number }).heapLimitMb - plain).toBeGreaterThanOrEqual(3 * (64 - 16));
    }
  });

  it.runIf(process.platform === 'linux')("QUERY_BACKGROUND_NICE lowers the view's and the stream's threads, and no other", async () => {
    const background = [THREAD.stream, THREAD.viewBuilder, THREAD.viewDecode, THREAD.viewDecode].sort();
    const named = (pid: number) => threadNices(pid).filter((t) => background.some((b) => t.startsWith(`${b} `)));
    // The hosted stream starts once the view has caught up; the scan finds it within 2 s.
    await expect.poll(() => named(shards[1]!.proc.pid!), { timeout: 30_000, interval: 200 }).toEqual(background.map((b) => `${b} 10`));
    expect(threadNices(shards[1]!.proc.pid!).filter((t) => !background.some((b) => t.startsWith(`${b} `)) && !t.endsWith(' 0'))).toEqual([]);
    await expect.poll(() => named(shards[0]!.proc.pid!), { timeout: 30_000, interval: 200 }).toEqual(background.map((b) => `${b} 0`));
    expect(threadNices(shards[0]!.proc.pid!).filter((t) => !t.endsWith(' 0'))).toEqual([]);
    expect(JSON.parse(shards[1]!.log.find((l) => l.includes('"msg":"query API started')) ?? '{}')).toMatchObject({ backgroundNice: 10 });
  });

  it('answers every user through both shards as ClickHouse does', async () => {
    for (const user of data.users) {
      const req = { user, query: 'limit=7' };
      const want = await allPages(`http://127.0.0.1:${plain.port}`, KEY, req);
      expect(want.every((p) => p.status === 200)).toBe(true);
      for (const i of [0, 1]) {
        expect(await allPages(`http://${hostOf(i)}:${port}`, KEY, req), `${user} via shard ${i}`).toEqual(want);
      }
    }
    // Each shard forwarded the users of the other: count them in its metrics.
    for (const i of [0, 1]) {
      const text = await (await fetch(`http://${hostOf(i)}:${port}/metrics`)).text();
      const n = Number(/trackhouse_query_events_answers_total\{answer="forwarded"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
      const own = data.users.filter((u) => partitionForKey(u, 4) % 2 === i).length;
      expect(own).toBeGreaterThan(0);
      expect(n).toBeGreaterThanOrEqual(data.users.length - own);
    }
    // Pages older than the view came from ClickHouse through CLICKHOUSE_URL.
    expect(http.requests).toBeGreaterThan(0);
  });

  it('answers users whose ids are dot segments, hold backslashes or come unencoded through either shard, REST and GraphQL', async () => {
    // Both ways of forwarding are taken: some of these users are shard 0's, some shard 1's.
    expect(new Set(AWKWARD.map((u) => partitionForKey(u.id, 4) % 2))).toEqual(new Set([0, 1]));
    const auth = { authorization: `Bearer ${KEY}` };
    /** Every page (limit 2, so the last one is past the view's horizon) through `path` as sent. */
    const pages = async (p: number, host: string, path: string): Promise<RawAnswer[]> => {
      const out: RawAnswer[] = [];
      let cursor: string | null = null;
      do {
        const [a] = await exchange(p, [{ method: 'GET', path: `/v1/users/${path}/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: auth }], host);
        out.push(a!);
        cursor = a!.status === 200 ? (JSON.parse(a!.body) as { next_cursor: string | null }).next_cursor : null;
      } while (cursor !== null && out.length < 5);
      return out;
    };
    const GQL = 'query ($id: String!) { user(id: $id) { events(first: 10) { edges { node { eventId userId } } } } }';
    for (const u of AWKWARD) {
      const want = await pages(plain.port, '127.0.0.1', u.paths[0]!);
      expect(want.map((a) => a.status)).toEqual([200, 200]);
      const events = want.flatMap((a) => (JSON.parse(a.body) as { events: { event_id: string; user_id: string }[] }).events);
      expect(events.map((e) => e.user_id)).toEqual([u.id, u.id, u.id]);
      for (const path of u.paths) {
        for (const i of [0, 1]) {
          const got = await pages(port, hostOf(i), path);
          expect(got.map((a) => `${a.status} ${a.body}`), `${path} via shard ${i}`).toEqual(want.map((a) => `${a.status} ${a.body}`));
        }
      }
      for (const i of [0, 1]) {
        const res = await fetch(`http://${hostOf(i)}:${port}/graphql`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ query: GQL, variables: { id: u.id } }),
        });
        expect(await res.json(), `${u.id} via shard ${i}'s GraphQL`).toEqual({
          data: { user: { events: { edges: events.map((e) => ({ node: { eventId: e.event_id, userId: e.user_id } })) } } },
        });
      }
    }
  });
});
