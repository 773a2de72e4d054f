// An NDJSON line over MAX_LINE_CHARS reaches the encoder as its start and its size (items.ts):
// it must come out as a rejected record (event_too_large) naming the whole line's bytes.
import { describe, expect, it } from 'vitest';
import { REJECT_VALUE_BYTES } from '../ingest/rejects.js';
import { EventCodec } from '../schema/index.js';
import { parseCsvMapping } from './csvmap.js';
import { ChunkEncoder } from './encoder.js';

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
});
