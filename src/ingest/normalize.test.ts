import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, type EventType } from '../schema/index.js';
import { parseEventJson } from './jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from './normalize.js';

const RECEIVED = Date.parse('2030-01-01T12:00:00.000Z');

function run(raw: unknown, type: EventType | null = null, ctx: Partial<NormalizeContext> = {}) {
  const out = emptyRecord();
  const problem = normalizeEvent(raw, type, { receivedAt: RECEIVED, source: 'web', sentAt: null, context: null, ip: null, ...ctx }, out);
  return { problem, out };
}

describe('normalizeEvent', () => {
  it('turns a track call into the Kafka record', () => {
    const { problem, out } = run({
      type: 'track',
      messageId: 'm-1',
      userId: 'u-1',
      anonymousId: 'a-1',
      event: 'Order Completed',
      properties: { category: 'shoes', total: 10 },
      context: { groupId: 'g-1', ip: '1.2.3.4' },
      timestamp: '2030-01-01T11:59:00.000Z',
      integrations: { All: true },
    });
    expect(problem).toBeNull();
    expect(out).toEqual({
      event_id: 'm-1',
      type: 'track',
      event: 'Order Completed',
      user_id: 'u-1',
      anonymous_id: 'a-1',
      timestamp: Date.parse('2030-01-01T11:59:00.000Z'),
      sent_at: null,
      received_at: RECEIVED,
      source: 'web',
      category: 'shoes',
      group_id: 'g-1',
      name: null,
      previous_id: null,
      properties: '{"category":"shoes","total":10}',
      traits: '{}',
      context: '{"groupId":"g-1","ip":"1.2.3.4"}',
    });
  });

  it('applies the clock-skew correction with the event sentAt, else the batch sentAt', () => {
    const ts = '2030-01-01T13:00:00.000Z';
    expect(run({ type: 'track', userId: 'u', event: 'e', timestamp: ts }, null, { sentAt: Date.parse('2030-01-01T13:00:01.000Z') }).out.timestamp).toBe(RECEIVED - 1000);
    const own = run({ type: 'track', userId: 'u', event: 'e', timestamp: ts, sentAt: '2030-01-01T13:00:05Z' }, null, { sentAt: 0 }).out;
    expect(own.timestamp).toBe(RECEIVED - 5000);
    expect(own.sent_at).toBe(Date.parse('2030-01-01T13:00:05Z'));
    expect(run({ type: 'track', userId: 'u', event: 'e' }, null, { sentAt: 5 }).out.timestamp).toBe(RECEIVED);
  });

  it('takes originalTimestamp (RudderStack SDKs) when timestamp is missing, skew-corrected the same way', () => {
    const call = { type: 'track', userId: 'u', event: 'e', originalTimestamp: '2030-01-01T13:00:00.000Z', sentAt: '2030-01-01T13:00:07.500Z' };
    expect(run(call).out.timestamp).toBe(RECEIVED - 7500);
    expect(run({ ...call, sentAt: undefined }).out.timestamp).toBe(Date.parse('2030-01-01T13:00:00.000Z'));
    // timestamp, when given, wins.
    expect(run({ ...call, timestamp: '2030-01-01T13:00:05.500Z' }).out.timestamp).toBe(RECEIVED - 2000);
    expect(run({ ...call, originalTimestamp: 'yesterday' }).problem).toMatchObject({ code: 'invalid_timestamp', message: expect.stringMatching(/^originalTimestamp must be an ISO 8601 time/) });
    expect(run({ ...call, originalTimestamp: 5 }).problem).toMatchObject({ code: 'invalid_timestamp', message: expect.stringMatching(/^originalTimestamp must be an ISO 8601 string/) });
  });

  it('says how to write a time it cannot read: an example, and that a time without a zone is UTC', () => {
    // A new user's first mistakes: a word, Unix seconds, an impossible day, an RFC 2822 date.
    const call = { type: 'track', userId: 'u', event: 'e' };
    const example = 'such as 2026-08-01T12:00:00.000Z (or with an offset, +02:00; a time without a zone is UTC)';
    expect(run({ ...call, timestamp: 'yesterday' }).problem).toEqual({ code: 'invalid_timestamp', message: `timestamp must be an ISO 8601 time ${example}` });
    expect(run({ ...call, timestamp: '2026-02-30T00:00:00Z' }).problem?.message).toBe(`timestamp must be an ISO 8601 time ${example}`);
    expect(run({ ...call, timestamp: 'Sat, 06 Dec 2026 03:00:00 GMT' }).problem?.message).toBe(`timestamp must be an ISO 8601 time ${example}`);
    expect(run({ ...call, timestamp: 1765000000 }).problem).toEqual({
      code: 'invalid_timestamp',
      message: `timestamp must be an ISO 8601 string ${example}, not a number`,
    });
    expect(run({ ...call, sentAt: 'now' }).problem?.message).toBe(`sentAt must be an ISO 8601 time ${example}`);
    expect(run({ ...call, sentAt: true }).problem?.message).toBe(`sentAt must be an ISO 8601 string ${example}, not a boolean`);
  });

  it('keeps the timestamp as given, sentAt recorded, when skew correction is off (imports)', () => {
    const out = run({ type: 'track', userId: 'u', event: 'e', timestamp: '2019-05-01T10:00:00Z', sentAt: '2019-05-01T10:00:09Z' }, null, { skew: false }).out;
    expect(out.timestamp).toBe(Date.parse('2019-05-01T10:00:00Z'));
    expect(out.sent_at).toBe(Date.parse('2019-05-01T10:00:09Z'));
    expect(out.received_at).toBe(RECEIVED);
  });

  it('takes the type from the endpoint for single calls and from the event in batches', () => {
    expect(run({ type: 'track', userId: 'u' }, 'identify').out.type).toBe('identify');
    expect(run({ userId: 'u' }).problem?.code).toBe('unknown_type');
    expect(run({ type: 'Track', userId: 'u' }).problem?.code).toBe('unknown_type');
  });

  it('says whether a batch item\'s type is missing, unknown or not a string', () => {
    expect(run({ userId: 'u', event: 'E' }).problem?.message).toMatch(/^type is missing: in a batch or an import every event needs one of track, identify/);
    expect(run({ type: 'Track', userId: 'u' }).problem?.message).toMatch(/^type "Track" is not one we take: /);
    expect(run({ type: 'x'.repeat(500), userId: 'u' }).problem?.message).toMatch(new RegExp(`^type "${'x'.repeat(40)}" is not`));
    expect(run({ type: 7, userId: 'u' }).problem?.message).toMatch(/^type is a number, not a string: /);
  });

  it('checks the Segment rules for each call', () => {
    const cases: [unknown, EventType | null, string | null][] = [
      [{ userId: 'u', event: 'e' }, 'track', null],
      [{ userId: 'u' }, 'track', 'missing_field'],
      [{ userId: 'u', event: '' }, 'track', 'missing_field'],
      [{ userId: 'u', event: 5 }, 'track', 'missing_field'],
      [{ event: 'e' }, 'track', 'missing_id'],
      [{ userId: '', anonymousId: null, event: 'e' }, 'track', 'missing_id'],
      [{ userId: { id: 1 }, event: 'e' }, 'track', 'invalid_field'],
      [{ userId: true }, 'identify', 'invalid_field'],
      [{ userId: 'u' }, 'group', 'missing_field'],
      [{ userId: 'u', groupId: [] }, 'group', 'invalid_field'],
      [{ anonymousId: 'a', previousId: 'p' }, 'alias', 'missing_field'],
      [{ userId: 'u' }, 'alias', 'missing_field'],
      [{ userId: 'u', previousId: 'p' }, 'alias', null],
      [{ userId: 'u', name: 7 }, 'page', 'invalid_field'],
      [{ userId: 'u', properties: [] }, 'identify', 'invalid_field'],
      [{ userId: 'u', traits: 'x' }, 'identify', 'invalid_field'],
      [{ userId: 'u', context: 1 }, 'identify', 'invalid_field'],
      [{ userId: 'u', properties: null, traits: null, context: null }, 'identify', null],
      [{ userId: 'u', messageId: { a: 1 } }, 'identify', 'invalid_field'],
      [{ userId: 'u', timestamp: 1700000000000 }, 'identify', 'invalid_timestamp'],
      [{ userId: 'u', timestamp: 'soon' }, 'identify', 'invalid_timestamp'],
      [{ userId: 'u', sentAt: 'later' }, 'identify', 'invalid_timestamp'],
      [{ userId: 'u', timestamp: '1850-01-01T00:00:00Z' }, 'identify', 'invalid_timestamp'],
      [{ userId: 'u', timestamp: '2299-12-31T00:00:00Z', sentAt: '1900-01-01T00:00:00Z' }, 'identify', 'invalid_timestamp'],
      ['text', null, 'not_an_object'],
      [[1], null, 'not_an_object'],
      [null, 'track', 'not_an_object'],
    ];
    for (const [raw, type, code] of cases) expect([raw, run(raw, type).problem?.code ?? null]).toEqual([raw, code]);
  });

  it('stores numeric ids as text and makes a UUID when messageId is missing', () => {
    const { out } = run({ userId: 42, anonymousId: 1.5, groupId: 7 }, 'group');
    expect([out.user_id, out.anonymous_id, out.group_id]).toEqual(['42', '1.5', '7']);
    expect(out.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run({ userId: 'u' }, 'identify').out.event_id).not.toBe(out.event_id);
  });

  it('fills name, category, previous_id and group_id the way each call carries them', () => {
    expect(run({ userId: 'u', name: 'Home', properties: { category: 'docs' } }, 'page').out).toMatchObject({ name: 'Home', category: 'docs' });
    expect(run({ userId: 'u', properties: { name: 'Pricing' }, category: 'sales' }, 'page').out).toMatchObject({ name: 'Pricing', category: 'sales' });
    expect(run({ userId: 'u', category: 'ignored', event: 'e' }, 'track').out.category).toBeNull();
    expect(run({ userId: 'u', previousId: 99 }, 'alias').out.previous_id).toBe('99');
    expect(run({ userId: 'u', groupId: 'g', context: { groupId: 'other' } }, 'group').out.group_id).toBe('g');
    expect(run({ userId: 'u', event: 'e', context: { groupId: 5 } }, 'track').out.group_id).toBe('5');
  });

  it('merges the batch-level context under the event context', () => {
    const { out } = run({ userId: 'u', event: 'e', context: { ip: 'event' } }, 'track', { context: { ip: 'batch', app: 'a' } });
    expect(JSON.parse(out.context)).toEqual({ ip: 'event', app: 'a' });
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track', { context: { app: 'a' } }).out.context)).toEqual({ app: 'a' });
  });

  it('keeps the digits of wide integers in a batch context and in the event context laid over it', () => {
    // As the edge reads a batch body: both contexts as JsonText, with their integers past 2^53.
    const body = parseEventJson('{"batch":[{"type":"track","userId":"u","event":"e","context":{"device":{"id":12345678901234567891},"groupId":9223372036854775807}}],"context":{"app":{"build":18446744073709551615},"device":{"id":1}}}')!;
    const event = (body.batch as unknown[])[0];
    const { problem, out } = run(event, null, { context: body.context as object });
    expect(problem).toBeNull();
    expect(out.context).toBe('{"app":{"build":18446744073709551615},"device":{"id":12345678901234567891},"groupId":9223372036854775807}');
    expect(out.group_id).toBe('9223372036854775807');
  });

  it('refuses properties nested deeper than JSON can be written, instead of throwing', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) deep = (deep.a = {}) as Record<string, unknown>;
    expect(run({ userId: 'u', event: 'e', properties: root }, 'track').problem?.code).toBe('invalid_field');
  });

  it('refuses a userId, anonymousId or event longer than the query API can be asked for, and takes one of exactly that length', () => {
    const longest = 'x'.repeat(MAX_ID_LENGTH);
    const over = `${longest}x`;
    expect(run({ userId: longest, anonymousId: longest, event: longest }, 'track').problem).toBeNull();
    expect(run({ userId: over, event: 'e' }, 'track').problem).toEqual({ code: 'invalid_field', message: 'userId is longer than 8192 characters' });
    expect(run({ anonymousId: over }, 'identify').problem).toEqual({ code: 'invalid_field', message: 'anonymousId is longer than 8192 characters' });
    expect(run({ userId: 'u', event: over }, 'track').problem).toEqual({ code: 'invalid_field', message: 'event is longer than 8192 characters' });
    // Ids of other kinds are not looked up by the query API: no limit but the event's 32 KB.
    expect(run({ userId: 'u', groupId: over }, 'group').problem).toBeNull();
  });

  it("records the caller's address as context.ip when the event has none, and never overrides the client's", () => {
    const ip = { ip: '203.0.113.9' };
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track', ip).out.context)).toEqual({ ip: '203.0.113.9' });
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { locale: 'de' } }, 'track', ip).out.context)).toEqual({ ip: '203.0.113.9', locale: 'de' });
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { ip: '198.51.100.1' } }, 'track', ip).out.context)).toEqual({ ip: '198.51.100.1' });
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { ip: null } }, 'track', ip).out.context)).toEqual({ ip: null }); // said so explicitly
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track').out.context)).toEqual({}); // INGEST_CLIENT_IP=off
    // A batch's context is shared by its events: it gets the ip in each event's text, and is itself left as it was.
    const shared = { library: { name: 'x' } };
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track', { ...ip, context: shared }).out.context)).toEqual({ ip: '203.0.113.9', library: { name: 'x' } });
    expect(shared).toEqual({ library: { name: 'x' } });
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track', { ...ip, context: { ip: '192.0.2.1' } }).out.context)).toEqual({ ip: '192.0.2.1' });
  });

  it("from a Segment server library's request, fills the caller's address only into calls with channel (RudderStack's SDKs)", () => {
    const server = { ip: '203.0.113.9', ipNeedsChannel: true };
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { library: { name: 'analytics-python' } } }, 'track', server).out.context)).toEqual({ library: { name: 'analytics-python' } });
    expect(JSON.parse(run({ userId: 'u', event: 'e', channel: 'server' }, 'track', server).out.context)).toEqual({ ip: '203.0.113.9' });
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { ip: '198.51.100.1' } }, 'track', server).out.context)).toEqual({ ip: '198.51.100.1' });
  });

  it("asks for the caller's address only for an event without an ip of its own (the edge's costs a system call)", () => {
    let asked = 0;
    const ip = () => (asked++, '203.0.113.9');
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { ip: '198.51.100.1' } }, 'track', { ip }).out.context)).toEqual({ ip: '198.51.100.1' });
    expect(asked).toBe(0);
    expect(JSON.parse(run({ userId: 'u', event: 'e', context: { locale: 'de' } }, 'track', { ip }).out.context)).toEqual({ ip: '203.0.113.9', locale: 'de' });
    expect(asked).toBe(1);
    // An address that cannot be read adds nothing.
    expect(JSON.parse(run({ userId: 'u', event: 'e' }, 'track', { ip: () => null }).out.context)).toEqual({});
  });

  it('takes Unix-ms times only from translated calls (msTimes); Segment calls keep ISO 8601 text only', () => {
    const call = { userId: 'u', event: 'e', timestamp: RECEIVED - 5000, sentAt: RECEIVED - 1000 };
    expect(run(call, 'track').problem).toMatchObject({ code: 'invalid_timestamp' });
    const { problem, out } = run(call, 'track', { msTimes: true });
    expect(problem).toBeNull();
    expect([out.timestamp, out.sent_at]).toEqual([RECEIVED - 4000, RECEIVED - 1000]);
    expect(run({ ...call, timestamp: Number.NaN }, 'track', { msTimes: true }).problem).toMatchObject({ code: 'invalid_timestamp' });
    expect(run({ ...call, timestamp: Date.UTC(3000, 0, 1), sentAt: undefined }, 'track', { msTimes: true }).problem).toMatchObject({ code: 'invalid_timestamp' });
  });

  it('takes Unix-ms times with a fraction to the millisecond below (the record holds whole ms)', () => {
    const { problem, out } = run({ userId: 'u', event: 'e', timestamp: RECEIVED - 5000.7, sentAt: RECEIVED - 999.2 }, 'track', { msTimes: true });
    expect(problem).toBeNull();
    expect([out.timestamp, out.sent_at]).toEqual([RECEIVED - 5001 + 1000, RECEIVED - 1000]);
    expect(Number.isInteger(out.timestamp)).toBe(true);
  });
});
