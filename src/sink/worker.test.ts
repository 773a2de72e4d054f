import { valueSymbol } from 'piscina';
import { describe, expect, it } from 'vitest';
import { eventRecord } from '../../test/support/events.js';
import { EventCodec, type EventRecord } from '../schema/index.js';
import { hashPair } from '../dedup/hash.js';
import type { DecodeResult } from './types.js';
import decode from './worker.js';

const codec = new EventCodec();
const event = (i: number, over: Partial<EventRecord> = {}): EventRecord =>
  eventRecord({ event_id: `e-${i}`, event: 'Viewed', user_id: `u-${i % 2}`, timestamp: 1_763_700_000_000 + i, received_at: 1_763_700_000_000 + i, ...over });

function task(values: Buffer[]) {
  const all = Buffer.concat(values);
  const starts = new Uint32Array(values.length);
  const ends = new Uint32Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    starts[i] = at;
    ends[i] = at += v.length;
  });
  const offsets = Float64Array.from(values, (_, i) => 100 + i);
  return { topic: 'events', partition: 2, values: new Uint8Array(all), starts, ends, offsets };
}

describe('decode worker', () => {
  it('turns records into rows and reports the ones it cannot use, keeping the rest', () => {
    const input = [
      codec.encode(event(0)),
      Buffer.from('not avro at all'),
      codec.encode(event(2)),
      codec.encode(event(3, { timestamp: Date.UTC(2500, 0, 1) })),
      codec.encode(event(4, { user_id: null, anonymous_id: 'anon-4' })),
    ];
    const r = (decode(task(input)) as Record<symbol, DecodeResult>)[valueSymbol]!;
    expect(r.rows).toBe(3);
    expect([...r.rowRecord.subarray(0, 3)]).toEqual([0, 2, 4]);
    expect(r.failures.map((f) => [f.index, f.code])).toEqual([
      [1, 'RECORD_UNDECODABLE'],
      [3, 'EVENT_OUT_OF_RANGE'],
    ]);
    const text = Buffer.from(r.payload).toString('utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines.map((l) => l.split('\t')[0])).toEqual(['e-0', 'e-2', 'e-4']);
    expect(lines.map((l) => l.split('\t').at(-1))).toEqual(['100', '102', '104']);
    expect(r.rowEnds[2]).toBe(r.payload.length);
    const id = new Uint32Array(2);
    hashPair('anon-4', 'e-4', id, 0);
    expect([r.ids[4], r.ids[5]]).toEqual([id[0], id[1]]);
  });
});
