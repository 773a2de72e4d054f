import { describe, expect, it } from 'vitest';
import { storedRecords } from '../../../test/support/vendor-records.js';
import { JsonText } from '../jsontext.js';
import { amplitudeReplies, translateAmplitude } from './amplitude.js';
import { Refused } from './types.js';

const T = Date.UTC(2026, 10, 20, 10, 0, 0);
const opts = { receivedAt: T, skew: true };

describe('Amplitude HTTP V2 / Batch -> Segment calls', () => {
  it('maps an event field by field', () => {
    const t = translateAmplitude(
      {
        api_key: 'k1',
        client_upload_time: '2026-11-20T09:59:59.000Z',
        events: [
          {
            event_type: 'Song Played',
            user_id: 'u1',
            device_id: 'd1',
            insert_id: 'ins-1',
            time: T - 2000,
            event_properties: { genre: 'jazz', category: 'music' },
            user_properties: { $set: { plan: 'pro' }, $setOnce: { first: 'a', plan: 'free' }, $add: { plays: 1 } },
            groups: { company: ['acme', 'other'] },
            price: 1.5,
            quantity: 2,
            revenue: 3,
            app_version: '2.1',
            platform: 'Web',
            os_name: 'Linux',
            os_version: '6',
            device_model: 'PC',
            carrier: 'T',
            country: 'DE',
            city: 'Berlin',
            language: 'de',
            ip: '203.0.113.9',
            library: 'amplitude-node-ts/1.5.73',
            session_id: 17,
            event_id: 4,
          },
        ],
      },
      opts,
    );
    expect(t.key).toBe('k1');
    expect(t.calls[0]).toEqual({
      type: 'track',
      event: 'Song Played',
      userId: 'u1',
      anonymousId: 'd1',
      messageId: 'ins-1',
      timestamp: T - 2000,
      sentAt: '2026-11-20T09:59:59.000Z',
      properties: { genre: 'jazz', category: 'music', price: 1.5, quantity: 2, revenue: 3 },
      traits: { first: 'a', plan: 'pro', $add: { plays: 1 } },
      context: {
        library: { name: 'amplitude-node-ts', version: '1.5.73' },
        app: { version: '2.1' },
        platform: 'Web',
        os: { name: 'Linux', version: '6' },
        device: { brand: undefined, manufacturer: undefined, model: 'PC', advertisingId: undefined },
        network: { carrier: 'T' },
        location: { country: 'DE', region: undefined, city: 'Berlin', latitude: undefined, longitude: undefined },
        locale: 'de',
        ip: '203.0.113.9',
        sessionId: 17,
        eventNumber: 4,
        groups: { company: ['acme', 'other'] },
        groupId: 'acme',
      },
    });
  });

  it('maps $identify, $groupidentify and page views; plain user_properties are traits as they are', () => {
    const calls = translateAmplitude(
      [
        { event_type: '$identify', user_id: 'u1', user_properties: { plan: 'pro' } },
        { event_type: '$groupidentify', user_id: 'u1', groups: { org: 'o1' }, group_properties: { $set: { size: 3 } } },
        { event_type: '[Amplitude] Page Viewed', device_id: 'd1', event_properties: { '[Amplitude] Page Title': 'Home' } },
      ],
      opts,
    ).calls;
    expect(calls[0]).toMatchObject({ type: 'identify', userId: 'u1', traits: { plan: 'pro' } });
    expect(calls[1]).toMatchObject({ type: 'group', groupId: 'o1', traits: { size: 3 } });
    expect(calls[2]).toMatchObject({ type: 'page', name: 'Home', anonymousId: 'd1' });
  });

  it('refuses events without event_type or ids, and with a time that is not Unix ms, naming the field', () => {
    const t = translateAmplitude({ api_key: 'k', events: [{ user_id: 'u' }, { event_type: 'x' }, { event_type: 'x', user_id: 'u', time: '2020-01-01' }, { event_type: 'x', user_id: 'u' }] }, opts);
    expect(t.calls.map((c) => (c instanceof Refused ? [c.code, c.field] : 'ok'))).toEqual([['missing_field', 'event_type'], ['missing_id', 'device_id'], ['invalid_timestamp', 'time'], 'ok']);
    // No time: the receive time (normalize's rule); no client_upload_time: no skew correction.
    expect(t.calls[3]).not.toHaveProperty('timestamp');
  });

  it('answers as Amplitude: events_ingested, 400 by field, Invalid API key, missing api_key', () => {
    const ok = amplitudeReplies.done({ accepted: 3, total: 3, rejected: null, bodyBytes: 321, receivedAt: T });
    expect(JSON.parse(ok.body as string)).toEqual({ code: 200, events_ingested: 3, payload_size_bytes: 321, server_upload_time: T });
    const bad = amplitudeReplies.done({
      accepted: 0,
      total: 3,
      rejected: [
        { index: 0, code: 'missing_field', error: 'x', field: 'event_type' },
        { index: 2, code: 'invalid_timestamp', error: 'y', field: 'time' },
      ],
      bodyBytes: 1,
      receivedAt: T,
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body as string)).toMatchObject({
      code: 400,
      events_with_missing_fields: { event_type: [0] },
      events_with_invalid_fields: { time: [2] },
      events_with_invalid_id_lengths: {},
      silenced_events: [],
    });
    expect(JSON.parse(amplitudeReplies.refused(401, 'unknown_write_key', 'nope').body as string)).toEqual({ code: 400, error: 'Invalid API key: nope' });
    expect(JSON.parse(amplitudeReplies.refused(401, 'missing_write_key', 'x').body as string)).toEqual({ code: 400, error: 'Request missing required field', missing_field: 'api_key' });
    expect(amplitudeReplies.refused(413, 'body_too_large', 'big').status).toBe(413);
  });
});

describe('Amplitude bodies as the edge reads them: 64-bit integers kept as sent', () => {
  const WIDE = '12345678901234567891'; // JSON.parse reads 12345678901234567000
  const MAX = '9223372036854775807'; // JSON.parse reads 9223372036854775807 as 9223372036854776000

  it('stores wide integers of event_properties digit for digit, and a user_id sent as one as its digits', () => {
    // As amplitude-analytics 1.3.0 (Python) posts it: json.dumps with sorted keys and spaces.
    const body = `{"api_key": "k", "events": [{"device_id": "d-1", "event_properties": {"big": ${MAX}, "name": "Zo\\u00eb"}, "event_type": "Order Completed", "insert_id": "i-1", "library": "amplitude-python/1.3.0", "time": 1795687200000, "user_id": ${WIDE}}], "options": {}}`;
    for (const path of ['/2/httpapi', '/batch']) {
      const { decoded, records } = storedRecords(path, body);
      expect(decoded.vendor, path).toBe('amplitude');
      expect(records[0], path).toEqual(
        expect.objectContaining({ type: 'track', event: 'Order Completed', user_id: WIDE, anonymous_id: 'd-1', properties: `{"big":${MAX},"name":"Zoë"}` }),
      );
    }
  });

  it('keeps a canonical event\'s properties as its own text (the fast path), with revenue fields merged keeping the digits', () => {
    const body = `{"api_key":"k","events":[{"event_type":"x","user_id":"u-1","event_properties":{"big":${WIDE},"a":1}},{"event_type":"y","user_id":"u-1","price":2.5,"quantity":2,"event_properties":{"big":${WIDE},"price":1}}]}`;
    const { decoded, records } = storedRecords('/2/httpapi', body);
    expect((decoded.translation.calls[0] as Record<string, unknown>).properties).toBeInstanceOf(JsonText);
    expect((records[0] as { properties: string }).properties).toBe(`{"big":${WIDE},"a":1}`);
    // As the generic path's {...event_properties, price, quantity}: price replaced in place.
    expect((records[1] as { properties: string }).properties).toBe(`{"big":${WIDE},"price":2.5,"quantity":2}`);
  });

  it('stores identify\'s user_properties ($set over $setOnce, or plain) as traits with their wide integers', () => {
    const event = (up: string) => `{"api_key":"k","events":[{"event_type":"$identify","user_id":"u-1","user_properties":${up}}]}`;
    const traits = (up: string) => (storedRecords('/2/httpapi', event(up)).records[0] as { traits: string }).traits;
    expect(traits(`{"$set": {"plan": "pro", "big": ${MAX}}}`)).toBe(`{"plan":"pro","big":${MAX}}`);
    expect(traits(`{"$set":{"big":${MAX}}}`)).toBe(`{"big":${MAX}}`);
    expect(traits(`{"$setOnce":{"first":${WIDE},"plan":"free"},"$set":{"plan":"pro"},"$add":{"n":1}}`)).toBe(`{"first":${WIDE},"plan":"pro","$add":{"n":1}}`);
    expect(traits(`{"plan":"$5","big":${WIDE}}`)).toBe(`{"plan":"$5","big":${WIDE}}`);
  });
});
