import { describe, expect, it } from 'vitest';
import { JsonText, PickedText } from '../jsontext.js';
import { decodeRequest, formatRoute } from './index.js';
import { posthogEvent, posthogReplies, readPosthogJson, translatePosthog } from './posthog.js';
import { storedRecords } from '../../../test/support/vendor-records.js';
import { Refused } from './types.js';

const T = Date.UTC(2026, 10, 20, 10, 0, 0);
const opts = { receivedAt: T, skew: true };

describe('PostHog capture -> Segment calls', () => {
  it("gives an event without uuid (posthog-go 1.5) an id derived from its distinct_id, name and sub-millisecond time, so a resent batch is deduplicated", () => {
    const body = (ts: string, name = 'Resent', uuid?: string) => ({ api_key: 'k', batch: [{ type: 'capture', uuid, distinct_id: 'u1', event: name, timestamp: ts, properties: {} }] });
    const id = (b: object) => (translatePosthog(b, opts).calls[0] as { messageId?: string }).messageId;
    const go = '2026-11-20T09:59:58.123456789Z';
    const first = id(body(go));
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id(body(go))).toBe(first);
    expect(id(body(go, 'Resent', ''))).toBe(first); // posthog-go writes "uuid":""
    // The body as the edge reads it gives the same id.
    const text = JSON.stringify({ api_key: 'k', batch: [{ type: 'capture', uuid: '', distinct_id: 'u1', event: 'Resent', timestamp: go, properties: {} }] });
    expect(id(readPosthogJson(text)!)).toBe(first);
    expect(id(body('2026-11-20T09:59:58.123456788Z'))).not.toBe(first);
    expect(id(body(go, 'Other'))).not.toBe(first);
    // A sent uuid wins; a time of whole milliseconds (or none) may be shared by real events: no id.
    expect(id(body(go, 'Resent', 'e-1'))).toBe('e-1');
    expect(id(body('2026-11-20T09:59:58.123Z'))).toBeUndefined();
    expect(id(body('2026-11-20T09:59:58Z'))).toBeUndefined();
  });

  it('maps a custom event field by field: distinct_id, uuid, timestamp + sent_at, properties, context, $groups', () => {
    const t = translatePosthog(
      {
        api_key: 'k1',
        sent_at: '2026-11-20T09:59:59.000Z',
        batch: [
          {
            event: 'Order Completed',
            distinct_id: 'u1',
            uuid: '0190-aa',
            timestamp: '2026-11-20T09:59:58.000Z',
            properties: {
              total: 3,
              category: 'books',
              $lib: 'posthog-node',
              $lib_version: '5.21.2',
              $current_url: 'https://x.example/p',
              $pathname: '/p',
              $raw_user_agent: 'UA',
              $ip: '203.0.113.9',
              $groups: { company: 'acme' },
            },
          },
        ],
      },
      opts,
    );
    expect(t.key).toBe('k1');
    expect(t.calls).toEqual([
      {
        type: 'track',
        event: 'Order Completed',
        userId: 'u1',
        messageId: '0190-aa',
        timestamp: '2026-11-20T09:59:58.000Z',
        sentAt: '2026-11-20T09:59:59.000Z',
        properties: {
          total: 3,
          category: 'books',
          $lib: 'posthog-node',
          $lib_version: '5.21.2',
          $current_url: 'https://x.example/p',
          $pathname: '/p',
          $raw_user_agent: 'UA',
          $ip: '203.0.113.9',
          $groups: { company: 'acme' },
        },
        context: {
          library: { name: 'posthog-node', version: '5.21.2' },
          page: { url: 'https://x.example/p', path: '/p' },
          userAgent: 'UA',
          ip: '203.0.113.9',
          groups: { company: 'acme' },
          groupId: 'acme',
        },
      },
    ]);
  });

  it('maps $identify, $create_alias, $groupidentify, $pageview and $screen to identify, alias, group, page and screen', () => {
    const calls = translatePosthog(
      [
        { event: '$identify', distinct_id: 'u1', $set: { plan: 'pro' }, properties: { $anon_distinct_id: 'anon-1', $set_once: { first: 'a', plan: 'free' } } },
        { event: '$create_alias', distinct_id: 'old-id', properties: { alias: 'u1' } },
        { event: '$groupidentify', distinct_id: 'u1', properties: { $group_type: 'company', $group_key: 'acme', $group_set: { size: 4 } } },
        { event: '$pageview', distinct_id: 'u1', properties: { title: 'Home', $current_url: 'https://x.example/' } },
        { event: '$screen', distinct_id: 'u1', properties: { $screen_name: 'Settings' } },
      ],
      opts,
    ).calls as Record<string, unknown>[];
    expect(calls[0]).toMatchObject({ type: 'identify', userId: 'u1', anonymousId: 'anon-1', traits: { first: 'a', plan: 'pro' } });
    expect(calls[0]!.properties).toEqual({ $anon_distinct_id: 'anon-1' }); // $set_once moved to traits
    expect(calls[1]).toMatchObject({ type: 'alias', userId: 'u1', previousId: 'old-id' });
    expect(calls[2]).toMatchObject({ type: 'group', groupId: 'acme', userId: 'u1', traits: { size: 4 } });
    expect(calls[3]).toMatchObject({ type: 'page', name: 'Home', userId: 'u1', context: { page: { url: 'https://x.example/', title: 'Home' } } });
    expect(calls[4]).toMatchObject({ type: 'screen', name: 'Settings' });
  });

  it('takes the token from token / $token / properties.token, drops it from properties, and reads anonymous events', () => {
    const t = translatePosthog([{ event: 'x', properties: { token: 'k2', distinct_id: 'd1', $device_id: 'd1', $is_identified: false } }], opts);
    expect(t.key).toBe('k2');
    expect(t.calls[0]).toMatchObject({ type: 'track', anonymousId: 'd1', properties: { distinct_id: 'd1', $device_id: 'd1', $is_identified: false } });
    expect((t.calls[0] as Record<string, unknown>).userId).toBeUndefined();
    expect((t.calls[0] as { properties: object }).properties).not.toHaveProperty('token');
    expect(translatePosthog({ $token: 'k3', event: 'x', distinct_id: 'u' }, opts).key).toBe('k3');
    expect(translatePosthog({ token: 'k4', event: 'x', distinct_id: 'u' }, opts).key).toBe('k4');
  });

  it('keeps an identified user\'s $device_id (posthog-js) as the anonymous id, as Amplitude\'s device_id and Mixpanel\'s $device_id are', () => {
    const props = { distinct_id: 'u1', $device_id: 'dev-1', $is_identified: true };
    const calls = translatePosthog(
      [
        { event: 'Bought', properties: props },
        { event: '$pageview', properties: { ...props, title: 'Home' } },
        { event: '$identify', properties: { ...props } },
        { event: '$groupidentify', properties: { ...props, $group_type: 'company', $group_key: 'acme' } },
        { event: '$create_alias', properties: { ...props, alias: 'u2' } },
        { event: 'Seen', properties: { distinct_id: 'u3' } },
      ],
      opts,
    ).calls as Record<string, unknown>[];
    for (const c of calls.slice(0, 4)) expect(c, String(c.type)).toMatchObject({ userId: 'u1', anonymousId: 'dev-1' });
    expect(calls[4]).toEqual(expect.objectContaining({ type: 'alias', userId: 'u2', previousId: 'u1' }));
    expect(calls[4]).not.toHaveProperty('anonymousId');
    expect(calls[5]).not.toHaveProperty('anonymousId');
  });

  it('counts an offset back from the receive time, takes posthog-js _= as sent_at, and skips skew for historical_migration and import', () => {
    expect(posthogEvent({ event: 'x', distinct_id: 'u', offset: 1500 }, T, undefined)).toMatchObject({ timestamp: T - 1500 });
    const viaQuery = translatePosthog([{ event: 'x', distinct_id: 'u', timestamp: '2026-11-20T09:00:00.000Z' }], opts, T - 1000).calls[0];
    expect(viaQuery).toMatchObject({ sentAt: T - 1000 });
    const hist = translatePosthog({ historical_migration: true, sent_at: '2026-11-20T09:00:01Z', batch: [{ event: 'x', distinct_id: 'u', timestamp: '2020-01-01T00:00:00Z' }] }, opts);
    expect(hist.calls[0]).not.toHaveProperty('sentAt');
    const imported = translatePosthog({ sent_at: '2026-11-20T09:00:01Z', batch: [{ event: 'x', distinct_id: 'u', timestamp: '2020-01-01T00:00:00Z' }] }, { receivedAt: T, skew: false });
    expect(imported.calls[0]).toMatchObject({ timestamp: '2020-01-01T00:00:00Z' });
    expect(imported.calls[0]).not.toHaveProperty('sentAt');
  });

  it('reads a query send time (sent_at= or _=) only as milliseconds after 2020, as PostHog\'s capture does', () => {
    const body = Buffer.from('[{"event":"x","distinct_id":"u","timestamp":"2026-11-20T09:59:59.000Z","properties":{"token":"k"}}]');
    const sentAt = (query: string) => (decodeRequest(formatRoute('/e')!, body, query, 512_000, T).translation.calls[0] as Record<string, unknown>).sentAt;
    expect(sentAt(`_=${T - 1000}&ver=1.0`)).toBe(T - 1000);
    // Seconds (older clients): not a send time. Taken as ms (1970), the skew correction put the
    // event in 2083.
    expect(sentAt(`_=${Math.floor((T - 1000) / 1000)}`)).toBeUndefined();
    expect(sentAt(`sent_at=${T - 2000}`)).toBe(T - 2000);
    expect(sentAt('_=abc')).toBeUndefined();
    // The body's sent_at wins.
    const batch = Buffer.from('{"api_key":"k","sent_at":"2026-11-20T10:00:00.000Z","batch":[{"event":"x","distinct_id":"u","timestamp":"2026-11-20T09:59:59.000Z"}]}');
    expect((decodeRequest(formatRoute('/batch')!, batch, `_=${T - 5000}`, 512_000, T).translation.calls[0] as Record<string, unknown>).sentAt).toBe(T);
  });

  it('refuses events without event name, distinct_id, alias or group key, keeping the original for the rejected topic', () => {
    const raw = [{ distinct_id: 'u' }, { event: 'x' }, { event: '$create_alias', distinct_id: 'u' }, { event: '$groupidentify', distinct_id: 'u' }, 'text'];
    const t = translatePosthog(raw, opts);
    expect(t.calls.map((c) => (c instanceof Refused ? [c.code, c.field] : null))).toEqual([
      ['missing_field', 'event'],
      ['missing_id', 'distinct_id'],
      ['missing_field', 'properties.alias'],
      ['missing_field', 'properties.$group_key'],
      ['not_an_object', 'event'],
    ]);
    expect(t.raw).toBe(raw);
  });

  it('takes $lib from beside event when the properties have none, as posthog-java 1.x sends it, read as text or parsed', () => {
    // posthog-java 1.2.0's batch, as its HttpSender posts it: `$lib` at the event's top level.
    const body =
      '{"api_key":"k","batch":[{"event":"Order Completed","distinct_id":"u1","uuid":"e-1","timestamp":"2026-11-20T09:59:58.123456Z","$lib":"posthog-java","properties":{"total":3}},' +
      '{"event":"x","distinct_id":"u1","$lib":"posthog-java","properties":{"$lib":"posthog-node","$lib_version":"5.21.2"}}]}';
    const text = readPosthogJson(body) as { batch: Record<string, unknown>[] };
    expect(text.batch[0]!.properties).toBeInstanceOf(PickedText); // the edge's own way of reading it
    for (const [how, value, prepared] of [['parsed', JSON.parse(body), false], ['text', text, true]] as const) {
      const [java, node] = translatePosthog(value, { ...opts, prepared }).calls.map((c) => (c as Record<string, unknown>).context);
      const context = (c: unknown) => (c instanceof JsonText ? JSON.parse(c.text) : c);
      expect(context(java), how).toEqual({ library: { name: 'posthog-java' } });
      // The properties' own $lib wins over the one beside event.
      expect(context(node), how).toEqual({ library: { name: 'posthog-node', version: '5.21.2' } });
    }
  });

  it('answers {"status":1}, a validation_error listing invalid events, and authentication_error for a key', () => {
    expect(posthogReplies.done({ accepted: 2, total: 2, rejected: null, bodyBytes: 10, receivedAt: T })).toEqual({ status: 200, contentType: 'application/json', body: '{"status":1}' });
    const bad = posthogReplies.done({ accepted: 1, total: 2, rejected: [{ index: 1, code: 'missing_id', error: 'distinct_id is required' }], bodyBytes: 10, receivedAt: T });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body as string)).toMatchObject({ type: 'validation_error', code: 'invalid_payload', accepted: 1, rejected: [{ index: 1 }] });
    expect(JSON.parse(posthogReplies.refused(401, 'unknown_write_key', 'no').body as string)).toEqual({ type: 'authentication_error', code: 'invalid_api_key', detail: 'no', attr: null });
  });
});

describe('PostHog person properties as the edge stores them: 64-bit integers kept as sent', () => {
  const WIDE = '12345678901234567891'; // JSON.parse reads 12345678901234567000
  const traitsOf = (events: object[]) => {
    const body = JSON.stringify({ api_key: 'k', batch: events }).replaceAll('"WIDE"', WIDE);
    return storedRecords('/batch/', body).records.map((r) => (typeof r === 'string' ? r : r.traits));
  };

  it('keeps them in $set and $set_once beside event (posthog-python, posthog-go) and in properties (posthog-java), merged or not', () => {
    expect(
      traitsOf([
        { event: '$identify', distinct_id: 'u', $set: { id: 'WIDE', plan: 'pro' } },
        { event: '$identify', distinct_id: 'u', $set: { id: 'WIDE' }, $set_once: { first: 'WIDE', id: 1 } },
        { event: '$identify', distinct_id: 'u', properties: { $set: { id: 'WIDE' }, $set_once: { first: 'a' }, n: 'WIDE' } },
        { event: '$groupidentify', distinct_id: 'u', properties: { $group_type: 'company', $group_key: 'acme', $group_set: { size: 'WIDE' }, n: 'WIDE' } },
        // Without such integers: the objects as JSON.parse reads them, merged as before.
        { event: '$identify', distinct_id: 'u', $set: { id: 2 }, properties: { $set_once: { first: 'a', id: 1 } } },
      ]),
    ).toEqual([
      `{"id":${WIDE},"plan":"pro"}`,
      `{"first":${WIDE},"id":${WIDE}}`,
      `{"first":"a","id":${WIDE}}`,
      `{"size":${WIDE}}`,
      '{"first":"a","id":2}',
    ]);
  });
});

describe('translatePayload (for trackhouse import)', () => {
  it('translates each vendor without HTTP, keeping historical times when skew is off', async () => {
    const { translatePayload } = await import('./index.js');
    const o = { receivedAt: T, skew: false };
    expect(translatePayload('posthog', { event: 'x', distinct_id: 'u', timestamp: '2020-01-01T00:00:00Z', sent_at: '2026-01-01T00:00:00Z' }, o).calls[0]).toEqual(
      expect.objectContaining({ type: 'track', event: 'x', userId: 'u', timestamp: '2020-01-01T00:00:00Z' }),
    );
    expect(translatePayload('amplitude', { event_type: 'x', user_id: 'u', time: 1577836800000 }, o).calls[0]).toMatchObject({ timestamp: 1577836800000 });
    expect(translatePayload('mixpanel', { event: 'x', properties: { distinct_id: 'u', time: 1577836800 } }, o).calls[0]).toMatchObject({ timestamp: 1577836800000 });
    expect(translatePayload('mixpanel-engage', { $distinct_id: 'u', $set: { a: 1 } }, o).calls[0]).toMatchObject({ type: 'identify', traits: { a: 1 } });
    expect(translatePayload('snowplow', { e: 'pv', duid: 'd', dtm: '1577836800000', stm: '1577836801000' }, o).calls[0]).not.toHaveProperty('sentAt');
  });
});
