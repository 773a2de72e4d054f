// An NDJSON line over MAX_LINE_CHARS reaches the encoder as its start and its size (items.ts):
// it must come out as a rejected record (event_too_large) naming the whole line's bytes.
import { describe, expect, it } from 'vitest';
import { REJECT_VALUE_BYTES } from '../ingest/rejects.js';
import { EventCodec } from '../schema/index.js';
import { parseCsvMapping } from './csvmap.js';
import { ChunkEncoder } from './encoder.js';
import type { ItemFormat } from './formats.js';

describe('ChunkEncoder', () => {
  it('rejects a line cut short by the reader as event_too_large, with the whole line\'s bytes', () => {
    const enc = new ChunkEncoder(new EventCodec(), { rejectedTopic: 'rejected', maxEventBytes: 32 * 1024, source: 'history', csv: parseCsvMapping(undefined, 'track'), mixpanelTimezone: null, refusesImport: () => null });
    enc.setInput('file-id', 'big.ndjson');
    const head = '{"pad":"' + 'x'.repeat(REJECT_VALUE_BYTES);
    enc.item('segment', { pos: 0, text: '{"type":"track","event":"a","userId":"u1"}' });
    enc.item('segment', { pos: 1, text: head.slice(0, REJECT_VALUE_BYTES), tooLong: 70_000_000 });
    const c = enc.take(0, 2, true, 0);
    expect(c.ends).toHaveLength(1);
    expect(c.rejects).toHaveLength(1);
    const r = c.rejects[0]!;
    expect(r.headers).toMatchObject({ error_code: 'event_too_large', index: '1', file: 'big.ndjson', truncated: 'true', original_bytes: '70000000' });
    expect(r.headers.reason).toMatch(/longer than 64 Mi characters \(70000000 bytes\)/);
    expect(Buffer.from(r.value).toString()).toBe(head.slice(0, REJECT_VALUE_BYTES));
  });

  // normalizeEvent checks the Segment call a translator made: its reasons named Segment's fields
  // ("userId is longer than ..."), which no PostHog, Amplitude, Mixpanel or Snowplow client sent.
  it('refuses a vendor event naming the vendor\'s own field (distinct_id, user_id, device_id, uid, ...), not Segment\'s', () => {
    const long = 'x'.repeat(8193);
    const cases: [ItemFormat, unknown, string][] = [
      ['posthog', { event: 'e', distinct_id: long }, 'distinct_id'],
      ['posthog', { event: '$create_alias', distinct_id: 'u1', properties: { alias: long } }, 'properties.alias'],
      ['posthog', { event: long, distinct_id: 'u1' }, 'event'],
      ['amplitude', { event_type: 'e', user_id: long }, 'user_id'],
      ['amplitude', { event_type: 'e', user_id: 'u1', device_id: long }, 'device_id'],
      ['amplitude', { event_type: long, user_id: 'u1' }, 'event_type'],
      ['mixpanel', { event: 'e', properties: { distinct_id: long, time: 1_700_000_000 } }, 'properties.distinct_id'],
      ['mixpanel', { event: 'e', properties: { distinct_id: 'u1', $device_id: long, time: 1_700_000_000 } }, 'properties.$device_id'],
      ['mixpanel', { event: long, properties: { distinct_id: 'u1', time: 1_700_000_000 } }, 'event'],
      ['mixpanel-engage', { $distinct_id: long, $set: { a: 1 } }, '$distinct_id'],
      ['mixpanel-engage', { $distinct_id: long, $properties: { a: 1 } }, '$distinct_id'],
      ['snowplow', { e: 'pv', uid: long, p: 'web', tv: 'js-3' }, 'uid'],
      ['snowplow', { e: 'pv', duid: long, p: 'web', tv: 'js-3' }, 'duid'],
      ['snowplow', { e: 'se', se_ac: long, uid: 'u1', p: 'web', tv: 'js-3' }, 'se_ac'],
    ];
    const enc = new ChunkEncoder(new EventCodec(), { rejectedTopic: 'rejected', maxEventBytes: 32 * 1024, source: 'history', csv: parseCsvMapping(undefined, 'track'), mixpanelTimezone: null, refusesImport: () => null });
    enc.setInput('file-id', 'vendors.ndjson');
    cases.forEach(([format, event], i) => enc.item(format, { pos: i, text: JSON.stringify(event) }));
    const c = enc.take(0, cases.length, true, 0);
    expect(c.ends).toHaveLength(0);
    expect(c.rejects.map((r) => [r.headers.index, r.headers.error_code, r.headers.reason])).toEqual(
      cases.map(([, , field], i) => [String(i), 'invalid_field', `${field} is longer than 8192 characters`]),
    );
  });
});
