// The whole pipeline in one test process, as the all-in-one runs it: an ingest edge on a free
// port, the sink draining the run's real broker into a fresh chDB, and the query API on that
// ClickHouse, so a test can send through any client and read the events back as a user would.
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Env } from '../../src/config/index.js';
import { startQuery, type QueryServer } from '../../src/query/index.js';
import { startSink, type RunningSink } from '../../src/sink/index.js';
import { startTestIngest, TopicReader, type TestIngest } from './ingest-support.js';
import type { EventReply } from '../../src/schema/index.js';

export const READ_KEY = 'test-read-key';

/** An event as the query API answers it. */
/** An event of the query API's reply (src/schema/reply.ts), with objects where JSON was stored. */
export interface ApiEvent extends EventReply {
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
}

export interface Pipeline {
  ingest: TestIngest;
  /** Records of the rejected topic. */
  rejected: TopicReader;
  queryUrl: string;
  /** The query API itself (its ports, reloadTls). */
  query: QueryServer;
  /** The ClickHouse the sink writes, as a BI tool reads it. */
  clickhouse: ClickHouseHandle['client'];
  /** A user's events (newest first) once at least `count` are visible through the query API. */
  /**
   * The user's events once `want` of them are visible: a count, or kinds (`byKind` keys) that must
   * all be there — a browser SDK may send more events than the test makes, in any order.
   */
  eventsOf(userId: string, want: number | readonly string[], timeoutMs?: number): Promise<ApiEvent[]>;
  /**
   * The reply text of a user's events once `want` are visible, as sent (not JSON.parse'd, which
   * would round integers beyond 2^53 and cannot show what the bytes are).
   */
  eventsText(userId: string, want: number): Promise<string>;
  close(): Promise<void>;
}

export async function startPipeline(env: Env = {}): Promise<Pipeline> {
  const ingest = await startTestIngest({ SINK_BATCH_MS: '100', ...env });
  const config = ingest.config;
  let ch: ClickHouseHandle | undefined;
  let sink: RunningSink | undefined;
  let query: QueryServer | undefined;
  let rejected: TopicReader | undefined;
  try {
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    sink = await startSink({ config, kafka: ingest.kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
    query = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('query', false) });
    rejected = await new TopicReader(ingest.kafka, [config.kafka.topics.rejected]).start();
  } catch (err) {
    await rejected?.stop();
    await query?.stop();
    await sink?.stop();
    await ch?.close();
    await ingest.close();
    throw err;
  }
  const queryUrl = `http://127.0.0.1:${query.port}`;
  const from = '2000-01-01T00:00:00Z';
  const to = '2100-01-01T00:00:00Z';
  const eventsUrl = (userId: string) => `${queryUrl}/v1/users/${encodeURIComponent(userId)}/events?from=${from}&to=${to}&limit=1000`;
  const auth = { authorization: `Bearer ${READ_KEY}` };
  const eventsOf: Pipeline['eventsOf'] = async (userId, want, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(eventsUrl(userId), { headers: auth });
      const body = (await res.json()) as { events: ApiEvent[] };
      if (res.status !== 200) throw new Error(`query API answered ${res.status}: ${JSON.stringify(body)}`);
      if (typeof want === 'number' ? body.events.length >= want : want.every((k) => byKind(body.events).has(k))) return body.events;
      if (Date.now() > deadline) throw new Error(`only ${body.events.length} events (wanted ${JSON.stringify(want)}) of ${userId} became visible: ${JSON.stringify(body.events)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return {
    ingest,
    rejected,
    queryUrl,
    query,
    clickhouse: ch.client,
    eventsOf,
    async eventsText(userId, want) {
      await eventsOf(userId, want);
      const res = await fetch(eventsUrl(userId), { headers: auth });
      if (res.status !== 200) throw new Error(`query API answered ${res.status}: ${await res.text()}`);
      return res.text();
    },
    async close() {
      await rejected!.stop();
      await query!.stop();
      await sink!.stop();
      await ch!.close();
      await ingest.close();
    },
  };
}

/** Events by type (the last of each), or by event name for tracks. */
export function byKind(events: readonly ApiEvent[]): Map<string, ApiEvent> {
  return new Map(events.map((e) => [e.type === 'track' ? `track:${e.event}` : e.type, e]));
}
