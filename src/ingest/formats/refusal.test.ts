// A vendor event that normalizeEvent refuses is named in the vendor's terms: each vendor's body as
// the edge reads it (its reader keeps properties as text, with the members it needs picked), its
// translation, normalizeEvent's reason, then vendorRefusal.
import { describe, expect, it } from 'vitest';
import { emptyRecord, normalizeEvent, type NormalizeContext } from '../normalize.js';
import { decodeRequest, formatRoute, Refused } from './index.js';
import { vendorRefusal } from './refusal.js';

const T = Date.UTC(2026, 10, 20, 10);
const LONG = 'x'.repeat(8193);
const ctx: NormalizeContext = { receivedAt: T, source: 'edge', sentAt: null, context: null, ip: null, msTimes: true };

/** The first event of `body` on `path`: its vendor, normalizeEvent's reason, and that reason in the vendor's terms. */
function refusal(path: string, body: string, query = '') {
  const d = decodeRequest(formatRoute(path)!, Buffer.from(body), query, 512_000, T);
  const call = d.translation.calls[0]!;
  expect(call).not.toBeInstanceOf(Refused);
  const p = normalizeEvent(call, null, ctx, emptyRecord());
  expect(p).not.toBeNull();
  const r = vendorRefusal(d.vendor, p!, call, d.translation.raw[0]);
  return { segment: p!.message, own: r === null ? null : [r.code, r.message, r.field] };
}

const tooLong = (field: string) => ['invalid_field', `${field} is longer than 8192 characters`, field];

describe('vendorRefusal', () => {
  it('names PostHog\'s distinct_id, $device_id, properties.alias and event', () => {
    expect(refusal('/batch', JSON.stringify({ api_key: 'k', batch: [{ event: 'e', distinct_id: LONG }] }))).toEqual({ segment: 'userId is longer than 8192 characters', own: tooLong('distinct_id') });
    expect(refusal('/batch', JSON.stringify({ api_key: 'k', batch: [{ event: 'e', distinct_id: 'u1', properties: { $device_id: LONG } }] })).own).toEqual(tooLong('properties.$device_id'));
    expect(refusal('/batch', JSON.stringify({ api_key: 'k', batch: [{ event: '$create_alias', distinct_id: 'u1', properties: { alias: LONG } }] })).own).toEqual(tooLong('properties.alias'));
    expect(refusal('/batch', JSON.stringify({ api_key: 'k', batch: [{ event: LONG, distinct_id: 'u1' }] })).own).toEqual(tooLong('event'));
  });

  it('names Amplitude\'s user_id, device_id and event_type', () => {
    const amp = (e: object) => refusal('/2/httpapi', JSON.stringify({ api_key: 'k', events: [e] })).own;
    expect(amp({ event_type: 'e', user_id: LONG })).toEqual(tooLong('user_id'));
    expect(amp({ event_type: 'e', user_id: 'u1', device_id: LONG })).toEqual(tooLong('device_id'));
    expect(amp({ event_type: LONG, device_id: 'd1' })).toEqual(tooLong('event_type'));
  });

  it('names Mixpanel\'s properties.distinct_id, properties.$user_id, $identified_id, event and an update\'s $distinct_id', () => {
    const mp = (e: object) => refusal('/track', JSON.stringify([e])).own;
    expect(mp({ event: 'e', properties: { token: 'k', distinct_id: LONG } })).toEqual(tooLong('properties.distinct_id'));
    expect(mp({ event: 'e', properties: { token: 'k', distinct_id: 'u1', $user_id: LONG } })).toEqual(tooLong('properties.$user_id'));
    expect(mp({ event: '$identify', properties: { token: 'k', distinct_id: 'u1', $identified_id: LONG } })).toEqual(tooLong('properties.$identified_id'));
    expect(mp({ event: LONG, properties: { token: 'k', distinct_id: 'u1' } })).toEqual(tooLong('event'));
    expect(refusal('/engage', JSON.stringify([{ $token: 'k', $distinct_id: LONG, $set: { a: 1 } }])).own).toEqual(tooLong('$distinct_id'));
  });

  it('names Snowplow\'s uid, duid and se_ac', () => {
    const sp = (e: object) => refusal('/com.snowplowanalytics.snowplow/tp2', JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [{ aid: 'k', p: 'web', tv: 'js-3', ...e }] })).own;
    expect(sp({ e: 'pv', uid: LONG })).toEqual(tooLong('uid'));
    expect(sp({ e: 'pv', duid: LONG })).toEqual(tooLong('duid'));
    expect(sp({ e: 'se', se_ac: LONG, duid: 'd1' })).toEqual(tooLong('se_ac'));
  });

  it('leaves a reason that names no call field as it is', () => {
    expect(vendorRefusal('posthog', { code: 'event_too_large', message: 'the event is larger than 32 KB' }, {}, {})).toBeNull();
    expect(vendorRefusal('segment-pixel', { code: 'invalid_field', message: 'userId is longer than 8192 characters' }, {}, {})).toBeNull();
  });
});
