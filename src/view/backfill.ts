// Events Kafka no longer holds (beyond the topic's retention), read back from ClickHouse for a view
// being built: `events` records each row's Kafka partition and offset, so the rows of an offset
// range are exactly what the sink wrote for those records (resends already dropped). Rendered with
// the view's own renderer, in offset order, with their identity hashes for the resend window.
import type { ClickHouseClient } from '@clickhouse/client';
import { hashPair } from '../dedup/hash.js';
import type { BackfillRow } from './builder.js';
import { storedEvent } from './render.js';

/** Offsets read per query: bounds the memory of one chunk. */
const CHUNK_OFFSETS = 20_000;

type Row = [
  userKey: string,
  offset: number,
  eventId: string,
  type: string,
  event: string,
  userId: string,
  anonymousId: string,
  timestamp: number,
  receivedAt: number,
  source: string,
  category: string,
  groupId: string,
  name: string,
  previousId: string,
  properties: string,
  traits: string,
  context: string,
];

const nul = (s: string) => (s === '' ? null : s);

/**
 * Calls `onChunk` with the rows of [from, to) of a partition, in offset order, chunk by chunk;
 * `last` is true for the final call (possibly with no rows).
 */
export async function readBackfill(
  client: ClickHouseClient,
  topic: string,
  partition: number,
  from: number,
  to: number,
  onChunk: (rows: BackfillRow[], last: boolean) => Promise<void>,
): Promise<number> {
  const id = new Uint32Array(2);
  let total = 0;
  for (let lo = from; lo < to || lo === from; lo += CHUNK_OFFSETS) {
    const hi = Math.min(to, lo + CHUNK_OFFSETS);
    const rs = await client.query({
      query: `SELECT user_key, kafka_offset, event_id, type, event, user_id, anonymous_id,
                     toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(received_at), source, category, group_id,
                     name, previous_id, properties, traits, context
              FROM events
              WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                AND kafka_offset >= {lo:UInt64} AND kafka_offset < {hi:UInt64}
              ORDER BY kafka_offset
              SETTINGS limit = 0, offset = 0`,
      query_params: { topic, partition, lo, hi },
      format: 'JSONCompactEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const rows = await rs.json<Row>();
    const out: BackfillRow[] = [];
    let lastOffset = -1;
    for (const r of rows) {
      // A record the sink inserted twice (a replay before its dedup) is one event.
      if (r[1] === lastOffset) continue;
      lastOffset = r[1];
      hashPair(r[0], r[2], id, 0);
      const json = storedEvent({
        event_id: r[2],
        type: r[3] as never,
        event: nul(r[4]),
        user_id: nul(r[5]),
        anonymous_id: nul(r[6]),
        timestamp: Number(r[7]),
        sent_at: null,
        received_at: Number(r[8]),
        source: r[9],
        category: nul(r[10]),
        group_id: nul(r[11]),
        name: nul(r[12]),
        previous_id: nul(r[13]),
        properties: r[14],
        traits: r[15],
        context: r[16],
      });
      out.push({ userKey: r[0], ts: Number(r[7]), id: r[2], type: r[3], event: r[4], json, hi: id[0]!, lo: id[1]!, receivedAt: Number(r[8]) });
    }
    total += out.length;
    await onChunk(out, hi >= to);
    if (hi >= to) break;
  }
  return total;
}
