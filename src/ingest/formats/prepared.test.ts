// The edge's fast reading of PostHog and Snowplow bodies (properties kept as their text, context
// built as text, a batch's send time parsed once) against the generic path (JSON.parse, objects,
// JSON.stringify in normalizeEvent): the same write key, the same refusals, the same rejected
// bytes and the same records, on random and hostile bodies.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { JsonText, PickedText, storable } from '../jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from '../normalize.js';
import { eventBytes } from '../rejects.js';
import { hostileString, roundedWide, xorshift32 } from '../../../test/support/hostile-json.js';
import { decodeRequest, formatRoute, readPosthogJson, translatePosthog, translateSnowplow, Refused, type Translation } from './index.js';

const T = Date.UTC(2026, 10, 20, 10);

const contexts: NormalizeContext[] = [
  { receivedAt: T, source: 'edge', sentAt: null, context: null, ip: '1.2.3.4', msTimes: true },
  { receivedAt: T, source: 'edge', sentAt: null, context: null, ip: null, msTimes: true },
  { receivedAt: T, source: 'import', sentAt: null, context: null, ip: null, msTimes: true, skew: false },
];

/**
 * JSON text with each id the fast path read as a wide integer's digits (a 64-bit id sent as a
 * number: a string there) as the rounded number JSON.parse reads (the generators send no such id
 * quoted).
 */
function wideIdsRounded(text: string): string {
  return text.replace(/"(distinct_id|userId|anonymousId|messageId|groupId|previousId)":"(-?[1-9]\d{15,19})"/g, (_, k: string, n: string) => `"${k}":${Number(n)}`);
}

/** Both translations give the same key, refusals, rejected bytes and normalized records. */
function sameOutcome(body: string, generic: Translation, fast: Translation): void {
  expect(fast.key, body).toBe(generic.key);
  expect(fast.calls.length, body).toBe(generic.calls.length);
  expect(fast.raw.length, body).toBe(generic.raw.length);
  for (let i = 0; i < generic.calls.length; i++) {
    const g = generic.calls[i]!;
    const f = fast.calls[i]!;
    // The fast path keeps a wide integer's digits where the generic one rounds them; a text it
    // writes again to keep them has its lone surrogates as U+FFFD.
    const gb = storable(roundedWide(eventBytes(generic.raw[i]).toString()));
    const fb = storable(roundedWide(wideIdsRounded(eventBytes(fast.raw[i]).toString())));
    if (gb !== fb) expect(fb, body).toBe(gb);
    if (g instanceof Refused || f instanceof Refused) {
      const pick = (x: unknown) => (x instanceof Refused ? { code: x.code, message: x.message, field: x.field, raw: storable(roundedWide(wideIdsRounded(eventBytes(x.raw).toString()))) } : x);
      if (!isDeepStrictEqual(pick(f), pick(g))) expect(pick(f), body).toStrictEqual(pick(g));
      continue;
    }
    if (f.writeKey !== g.writeKey) expect(f.writeKey, body).toBe(g.writeKey);
    for (const ctx of contexts) {
      const a = emptyRecord();
      const b = emptyRecord();
      // No usable id: normalize would make a random one on each side.
      const gc = g.messageId === undefined || g.messageId === null || g.messageId === '' ? { ...g, messageId: 'fixed-id' } : g;
      const fc = f.messageId === undefined || f.messageId === null || f.messageId === '' ? { ...f, messageId: 'fixed-id' } : f;
      const pa = normalizeEvent(gc, null, ctx, a);
      const pb = normalizeEvent(fc, null, ctx, b);
      // The fast path keeps a wide integer's digits where the generic one rounds them.
      for (const k of ['user_id', 'anonymous_id', 'event_id', 'group_id', 'previous_id', 'properties', 'traits', 'context'] as const) {
        if (typeof b[k] === 'string') (b as unknown as Record<string, string>)[k] = roundedWide(b[k]);
      }
      if (!isDeepStrictEqual(pb, pa)) expect(pb, body).toStrictEqual(pa);
      if (pa === null && !isDeepStrictEqual(b, a)) expect(b, body).toStrictEqual(a);
    }
  }
}

/** A small deterministic generator of JSON text, canonical or not, with hostile strings and numbers. */
function generator(seed0: number) {
  const rnd = xorshift32(seed0);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let noise = 0;
  const ws = () => (rnd() < noise ? pick([' ', '\n', '\t', '  ']) : '');
  const chars = ['a', 'B', '0', ' ', '"', '\\', '/', '\n', '\u0001', 'é', '€', '😀', '\ud800', '\udc00', '\u2028', '.', '-', 'x'];
  const str = (): string => hostileString(rnd, chars, noise);
  const plainStr = () => pick(['"u-1"', '"Mozilla/5.0 (X11; Linux x86_64)"', '"posthog-js"', '"1.2.3"', '"https://x.example/a?b=1"', '"/a"', '""', '"203.0.113.9"', '"shoes"', '"42"']);
  const num = (): string =>
    rnd() < 1 - noise
      ? pick(['0', '1', '-3', '42.5', '0.25', '1700000000000', '123456789012345'])
      : pick(['-0', '0.0', '1.50', '1e3', '2E-2', '0.0000001', '1234567890123456', '9007199254740993']);
  const scalar = () => (rnd() < 0.5 ? (rnd() < 0.5 ? plainStr() : str()) : rnd() < 0.6 ? num() : pick(['true', 'false', 'null']));
  const value = (depth: number, keys: readonly string[]): string => {
    const r = rnd();
    if (depth > 3 || r < 0.6) return scalar();
    if (r < 0.75) {
      const n = Math.floor(rnd() * 4);
      return `[${ws()}${Array.from({ length: n }, () => value(depth + 1, keys)).join(`${ws()},${ws()}`)}${ws()}]`;
    }
    return obj(depth + 1, keys, 4);
  };
  const member = (name: string, v: string) => `${ws()}${rnd() < 1 - noise / 2 ? JSON.stringify(name) : `"${name.replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}"`}${ws()}:${ws()}${v}`;
  const obj = (depth: number, keys: readonly string[], max: number): string => {
    const n = Math.floor(rnd() * max);
    const members = Array.from({ length: n }, () => member(rnd() < 0.9 ? pick(keys) : pick(['1', '01', '', '__proto__', 'x y', 'token']), value(depth, keys)));
    return `{${members.join(`${ws()},`)}${ws()}}`;
  };
  return {
    rnd,
    pick,
    ws,
    str,
    plainStr,
    num,
    scalar,
    value,
    member,
    obj,
    setNoise(n: number) {
      noise = n;
    },
  };
}

const PROPERTY_KEYS = [
  'distinct_id', '$set', '$set_once', 'token', 'api_key', '$token', '$is_identified', '$device_id', '$anon_distinct_id', 'alias',
  '$group_key', '$group_set', 'title', '$title', '$screen_name', '$lib', '$lib_version', '$current_url', '$pathname', '$referrer',
  '$raw_user_agent', '$ip', '$groups', 'category', 'name', 'groupId', 'ip', 'price', 'a', 'b',
];

describe('PostHog bodies: readPosthogJson + the prepared translation vs JSON.parse + the generic one', () => {
  it('keeps a posthog-js / posthog-node event\'s properties as text, without the token, and its context as text', () => {
    const body =
      '{"api_key":"k","sent_at":"2026-11-20T10:00:00.000Z","batch":[{"event":"Order Completed","distinct_id":"u-1","uuid":"e-1","timestamp":"2026-11-20T09:59:59.000Z",' +
      '"properties":{"token":"k","price":10.5,"category":"shoes","$lib":"posthog-node","$lib_version":"5.21.2","$ip":"203.0.113.9","$raw_user_agent":"UA/1","$current_url":"https://x.example/p","$pathname":"/p","$groups":{"company":"acme"}}}]}';
    const fast = translatePosthog(readPosthogJson(body), { receivedAt: T, skew: true, prepared: true });
    const call = fast.calls[0] as Record<string, unknown>;
    expect(call.properties).toBeInstanceOf(JsonText);
    expect((call.properties as JsonText).text).toBe(
      '{"price":10.5,"category":"shoes","$lib":"posthog-node","$lib_version":"5.21.2","$ip":"203.0.113.9","$raw_user_agent":"UA/1","$current_url":"https://x.example/p","$pathname":"/p","$groups":{"company":"acme"}}',
    );
    expect((call.context as JsonText).text).toBe(
      '{"library":{"name":"posthog-node","version":"5.21.2"},"page":{"url":"https://x.example/p","path":"/p"},"userAgent":"UA/1","ip":"203.0.113.9","groups":{"company":"acme"},"groupId":"acme"}',
    );
    expect(call.sentAt).toBe(Date.parse('2026-11-20T10:00:00.000Z'));
    sameOutcome(body, translatePosthog(JSON.parse(body), { receivedAt: T, skew: true }), fast);
  });

  it('cuts the dropped members wherever they are, and leaves non-canonical properties to JSON.parse', () => {
    for (const props of ['{"token":"k"}', '{"token":"k","a":1}', '{"a":1,"token":"k"}', '{"a":1,"token":"k","b":2}', '{"$set":{"x":1},"token":"k","$set_once":{"y":2},"a":[1,{"token":1}],"api_key":"k"}', '{"a":{"token":"k"}}']) {
      const body = `[{"event":"x","distinct_id":"u","properties":${props}}]`;
      const v = readPosthogJson(body) as Record<string, unknown>[];
      expect(v[0]!.properties, props).toBeInstanceOf(PickedText);
      const fast = translatePosthog(v, { receivedAt: T, skew: true, prepared: true });
      const want = JSON.parse(props) as Record<string, unknown>;
      for (const k of ['token', 'api_key', '$set', '$set_once']) delete want[k];
      expect(((fast.calls[0] as Record<string, unknown>).properties as JsonText).text, props).toBe(JSON.stringify(want));
      sameOutcome(body, translatePosthog(JSON.parse(body), { receivedAt: T, skew: true }), fast);
    }
    for (const props of ['{"a":1.0}', '{"a":1,"a":2}', '{ "a":1}', '{"\\u0061":1}']) {
      const v = readPosthogJson(`[{"event":"x","distinct_id":"u","properties":${props}}]`) as Record<string, unknown>[];
      expect(v[0]!.properties, props).not.toBeInstanceOf(JsonText);
    }
  });

  it('builds each event\'s context anew when any one of the properties it comes from differs from the last event\'s', () => {
    const base: Record<string, unknown> = { $lib: 'web', $lib_version: '1.2', $current_url: 'https://x.example/a', $pathname: '/a', $referrer: 'https://r.example/', title: 'A', $raw_user_agent: 'UA', $ip: '1.2.3.4' };
    const events: Record<string, unknown>[] = [base, base];
    for (const k of Object.keys(base)) events.push({ ...base, [k]: `${String(base[k])}-other` }, base, { ...base, [k]: undefined }, base, { ...base, [k]: 7 }, { ...base, [k]: 7 }, { ...base, [k]: 'é"\\' });
    const body = JSON.stringify({ api_key: 'k', batch: events.map((properties, i) => ({ event: 'x', distinct_id: `u-${i}`, properties })) });
    const fast = translatePosthog(readPosthogJson(body), { receivedAt: T, skew: true, prepared: true });
    expect(fast.calls.every((c) => !(c instanceof Refused) && c.context instanceof JsonText)).toBe(true);
    sameOutcome(body, translatePosthog(JSON.parse(body), { receivedAt: T, skew: true }), fast);
  });

  it('cuts the dropped members out of the text in every order and position', () => {
    const names = ['a', 'token', 'b', '$set', 'c', 'api_key', '$set_once'];
    let checked = 0;
    const orders = function* (k: number, prefix: string[]): Generator<string[]> {
      yield prefix;
      if (k > 0) for (const x of names) if (!prefix.includes(x)) yield* orders(k - 1, [...prefix, x]);
    };
    for (const members of orders(5, [])) {
      const props = JSON.stringify(Object.fromEntries(members.map((m, i) => [m, m.startsWith('$set') ? { x: i } : i])));
      const v = readPosthogJson(`[{"event":"x","distinct_id":"u","properties":${props}}]`) as Record<string, unknown>[];
      const want = JSON.parse(props) as Record<string, unknown>;
      for (const k of ['token', 'api_key', '$set', '$set_once']) delete want[k];
      const got = (v[0]!.properties as PickedText).kept().text;
      if (got !== JSON.stringify(want)) expect(got, props).toBe(JSON.stringify(want));
      checked++;
    }
    expect(checked).toBe(3620);
  });

  it('leaves Amplitude\'s body on /batch to JSON.parse, and refuses what JSON.parse refuses with its message', () => {
    const route = formatRoute('/batch')!;
    const amp = Buffer.from('{"api_key":"k","events":[{"event_type":"x","user_id":"u","event_properties":{"a":1}}]}');
    expect(decodeRequest(route, amp, '', 512_000, T).vendor).toBe('amplitude');
    // `events` after a long first member: the reader itself gives up at it.
    const late = Buffer.from(`{"options":{"pad":"${'x'.repeat(600)}"},"api_key":"k","events":[{"event_type":"x","user_id":"u"}]}`);
    const d = decodeRequest(route, late, '', 512_000, T);
    expect(d.vendor).toBe('amplitude');
    expect(d.translation.calls).toHaveLength(1);
    expect(readPosthogJson('{"api_key":"k","events":[]}')).toBeNull();
    expect(() => decodeRequest(formatRoute('/i/v0/e')!, Buffer.from('[{"event":"x",}]'), '', 512_000, T)).toThrow(/not valid JSON/);
  });

  it('marks Mixpanel\'s ip=0 requests: the caller\'s address is not to be taken for their users', () => {
    const body = Buffer.from(`data=${Buffer.from('[{"event":"e","properties":{"token":"k","distinct_id":"u"}}]').toString('base64')}`);
    for (const path of ['/track', '/engage', '/import']) {
      expect(decodeRequest(formatRoute(path)!, body, 'ip=0&verbose=1', 512_000, T).noCallerIp, path).toBe(true);
      expect(decodeRequest(formatRoute(path)!, body, 'ip=1&verbose=1', 512_000, T).noCallerIp, path).toBe(false);
      expect(decodeRequest(formatRoute(path)!, body, '', 512_000, T).noCallerIp, path).toBe(false);
    }
    // PostHog's requests on the shared paths say nothing of it.
    const ph = Buffer.from('{"api_key":"k","batch":[{"event":"e","distinct_id":"u"}]}');
    expect(decodeRequest(formatRoute('/track')!, ph, 'ip=0', 512_000, T).noCallerIp).toBeUndefined();
  });

  it('agrees with the generic path on random and hostile bodies', () => {
    const g = generator(0x2545f491);
    const eventKeys = ['event', 'distinct_id', '$distinct_id', 'uuid', 'timestamp', 'offset', 'sent_at', '$set', '$set_once', 'properties', 'type', 'token'];
    const event = (): string => {
      const fields: string[] = [];
      if (g.rnd() < 0.95) fields.push(g.member('event', g.rnd() < 0.5 ? '"Order Completed"' : g.pick(['"$pageview"', '"$screen"', '"$identify"', '"$create_alias"', '"$groupidentify"', '""', '1', g.str()])));
      if (g.rnd() < 0.9) fields.push(g.member('distinct_id', g.rnd() < 0.7 ? '"u-1"' : g.pick([g.plainStr, g.str, g.num, () => 'null'])()));
      if (g.rnd() < 0.6) fields.push(g.member('uuid', g.pick([g.plainStr, g.str, () => '"e-1"'])()));
      if (g.rnd() < 0.6) fields.push(g.member('timestamp', g.pick(['"2026-11-20T09:59:59.000Z"', '"yesterday"', '1795687200000', 'null', '"2026-11-20T09:59:59+02:00"'])));
      if (g.rnd() < 0.15) fields.push(g.member('offset', g.pick(['1000', '-5', '"7"', '1e400'])));
      if (g.rnd() < 0.15) fields.push(g.member('sent_at', g.pick(['"2026-11-20T10:00:00.000Z"', '"nope"', '5'])));
      if (g.rnd() < 0.1) fields.push(g.member(g.pick(eventKeys), g.value(1, PROPERTY_KEYS)));
      for (const k of ['$set', '$set_once']) if (g.rnd() < 0.1) fields.push(g.member(k, g.obj(1, PROPERTY_KEYS, 3)));
      if (g.rnd() < 0.9) fields.push(g.member('properties', g.rnd() < 0.9 ? g.obj(1, PROPERTY_KEYS, 9) : g.value(2, PROPERTY_KEYS)));
      fields.sort(() => g.rnd() - 0.5);
      return `{${fields.join(',')}}`;
    };
    let fastProps = 0;
    let calls = 0;
    let checked = 0;
    for (let i = 0; i < 3_000; i++) {
      g.setNoise(g.rnd() < 0.6 ? 0 : 0.1);
      const events = Array.from({ length: 1 + Math.floor(g.rnd() * 4) }, event);
      if (g.rnd() < 0.05) events.push(g.pick(['7', '"x"', 'null', '[]']));
      const list = `[${events.join(`${g.ws()},`)}]`;
      const top: string[] = [];
      if (g.rnd() < 0.5) top.push(g.member('api_key', g.pick([g.plainStr, g.str, g.num])()));
      if (g.rnd() < 0.4) top.push(g.member('sent_at', g.pick(['"2026-11-20T10:00:00.000Z"', '"2026-11-20T10:00:00Z"', '"bad"', '1'])));
      if (g.rnd() < 0.1) top.push(g.member('historical_migration', g.pick(['true', 'false'])));
      if (g.rnd() < 0.05) top.push(g.member(g.pick(['data', 'token', 'properties']), g.value(1, PROPERTY_KEYS)));
      const form = g.rnd();
      let body = form < 0.4 ? list : form < 0.85 ? `{${[...top, g.member('batch', list)].sort(() => g.rnd() - 0.5).join(',')}}` : form < 0.9 ? `{${[...top, g.member('data', list)].join(',')}}` : events[0]!;
      body = `${g.ws()}${body}${g.ws()}`;
      if (g.rnd() < 0.03) {
        const at = Math.floor(g.rnd() * body.length);
        body = `${body.slice(0, at)}${g.pick(['x', ',', '"', '}', '\\'])}${body.slice(at)}`;
      }
      // As the edge sees it: through UTF-8 (a lone surrogate becomes U+FFFD).
      body = Buffer.from(body).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        expect(readPosthogJson(body), body).toBeNull();
        continue;
      }
      const read = readPosthogJson(body);
      if (read === null) continue;
      checked++;
      // Every value but the kept properties is JSON.parse's; JSON.stringify gives the same text.
      // (A properties text written again, with a wide integer, has its lone surrogates as U+FFFD.)
      expect(storable(wideIdsRounded(JSON.stringify(read))), body).toBe(storable(JSON.stringify(parsed)));
      for (const path of ['/i/v0/e', '/batch']) {
        const fast = decodeRequest(formatRoute(path)!, Buffer.from(body), '', 512_000, T);
        const generic = translatePosthog(parsed, { receivedAt: T, skew: true });
        if (fast.vendor !== 'posthog') continue;
        if (fast.translation.calls.length === 0 && generic.calls.length !== 0) {
          // decodeRequest answers a body with no event list with no calls, as before.
          expect(Array.isArray(parsed) || (typeof parsed === 'object' && parsed !== null), body).toBe(true);
        } else sameOutcome(body, generic, fast.translation);
      }
      for (const c of translatePosthog(read, { receivedAt: T, skew: false, prepared: true }).calls) {
        calls++;
        if (!(c instanceof Refused) && c.properties instanceof JsonText) fastProps++;
      }
      sameOutcome(body, translatePosthog(parsed, { receivedAt: T, skew: false }), translatePosthog(read, { receivedAt: T, skew: false, prepared: true }));
    }
    // Enough of both kinds for the comparison to mean something.
    expect(checked).toBeGreaterThan(2_500);
    expect(calls).toBeGreaterThan(6_000);
    expect(fastProps).toBeGreaterThan(1_000);
  });
});

describe('Snowplow bodies: the prepared translation vs the generic one', () => {
  const opts = { receivedAt: T, skew: true };

  it('keeps a self-describing event\'s data as its text and builds the context as text', () => {
    const ue = JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0', data: { schema: 'iglu:com.acme/order_completed/jsonschema/1-0-0', data: { orderId: 'o-1', revenue: 42.5, category: 'shoes' } } });
    const body = { schema: 'x', data: [{ e: 'ue', ue_pr: ue, aid: 'k', p: 'srv', tv: 'node-4.8.0', uid: 'u-1', eid: 'e-1', dtm: '1795687200000', stm: '1795687201000', ip: '203.0.113.9', ua: 'UA', lang: 'en-US' }] };
    const fast = translateSnowplow(body, { ...opts, prepared: true });
    const call = fast.calls[0] as Record<string, unknown>;
    expect((call.properties as JsonText).text).toBe('{"orderId":"o-1","revenue":42.5,"category":"shoes"}');
    expect((call.context as JsonText).text).toBe(
      '{"snowplow":{"schema":"iglu:com.acme/order_completed/jsonschema/1-0-0"},"userAgent":"UA","ip":"203.0.113.9","locale":"en-US","library":{"name":"node-4.8.0"},"app":{"id":"k"},"platform":"srv"}',
    );
    sameOutcome(JSON.stringify(body), translateSnowplow(body, opts), fast);
  });

  it('builds each event\'s context anew when any one of its device fields differs from the last event\'s', () => {
    const base: Record<string, unknown> = { e: 'pv', uid: 'u', aid: 'k', p: 'web', tv: 'js-4', ua: 'UA', ip: '1.2.3.4', lang: 'de', tz: 'Europe/Berlin', res: '1x2', sid: 's', vid: '3', url: 'https://x.example/' };
    const events: Record<string, unknown>[] = [base, base];
    for (const k of ['aid', 'p', 'tv', 'ua', 'ip', 'lang', 'tz', 'res', 'sid', 'vid']) {
      events.push({ ...base, [k]: `${String(base[k])}-other` }, base, { ...base, [k]: undefined }, base, { ...base, [k]: 7 }, { ...base, [k]: 7 });
    }
    const body = { data: events };
    sameOutcome(JSON.stringify(body), translateSnowplow(JSON.parse(JSON.stringify(body)), opts), translateSnowplow(JSON.parse(JSON.stringify(body)), { ...opts, prepared: true }));
  });

  it('agrees with the generic path on random and hostile events', () => {
    const g = generator(0x1b873593);
    const b64 = (s: string) => Buffer.from(s).toString(g.rnd() < 0.5 ? 'base64' : 'base64url');
    const selfDescribing = (): string => {
      const r = g.rnd();
      const schema = g.pick(['"iglu:com.acme/order_completed/jsonschema/1-0-0"', '"iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0"', '"x"', g.str(), '1']);
      const data = g.rnd() < 0.9 ? g.obj(1, ['name', 'category', 'orderId', 'price', 'groupId', 'ip', 'a'], 6) : g.value(2, ['a']);
      if (r < 0.7) return `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":${schema},"data":${data}}}`;
      if (r < 0.8) return `{${g.ws()}"data":{"data":${data},"schema":${schema}},"schema":"s"}`;
      if (r < 0.9) return `{"schema":${g.str()},"data":{"schema":${schema},"data":${data}}}`;
      return g.pick(['{', 'null', '[]', '{"schema":"a","data":{"schema":"b","data":{}}}x', '{"schema":"a","data":{"schema":"b\u0001","data":{}}}', '{"schema":"a\\"","data":{"schema":"b","data":{}}}']);
    };
    const event = () => {
      const e: Record<string, unknown> = {};
      e.e = g.rnd() < 0.7 ? 'ue' : g.pick(['pv', 'se', 'pp', 'tr', 'ti', 'zz', 1]);
      const sd = selfDescribing();
      if (g.rnd() < 0.8) e.ue_pr = g.rnd() < 0.9 ? sd : '';
      if (g.rnd() < 0.3) e.ue_px = b64(selfDescribing());
      const any = () => JSON.parse(g.value(3, ['a', 'b'])) as unknown;
      const text = () => JSON.parse(g.rnd() < 0.7 ? g.plainStr() : g.str()) as string;
      for (const k of ['aid', 'p', 'tv', 'uid', 'duid', 'nuid', 'eid', 'ip', 'ua', 'lang', 'tz', 'url', 'page', 'refr', 'sid', 'se_ac', 'se_ca', 'se_la', 'se_pr']) if (g.rnd() < 0.5) e[k] = g.rnd() < 0.85 ? text() : any();
      for (const k of ['dtm', 'stm', 'ttm', 'vid', 'se_va', 'pp_mix', 'tr_tt']) if (g.rnd() < 0.3) e[k] = g.pick(['1795687200000', '12', '', 'x', 1795687200000, '1e3']);
      if (g.rnd() < 0.3) e.res = g.pick(['1920x1080', 'x', '12x', 'axb', 5]);
      if (g.rnd() < 0.2) e.cx = b64(`{"schema":"c","data":[${g.value(2, ['a'])}]}`);
      if (g.rnd() < 0.1) e.co = g.pick(['{"schema":"c","data":[{"a":1}]}', '{"data":{}}', 'nope']);
      return e;
    };
    let fastProps = 0;
    let calls = 0;
    for (let i = 0; i < 3_000; i++) {
      g.setNoise(g.rnd() < 0.6 ? 0 : 0.1);
      const events: unknown[] = Array.from({ length: 1 + Math.floor(g.rnd() * 3) }, event);
      if (g.rnd() < 0.05) events.push(g.pick([7, 'x', null, []]));
      const body = { schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: events };
      const text = JSON.stringify(body);
      const fast = translateSnowplow(JSON.parse(text), { ...opts, prepared: true });
      for (const c of fast.calls) {
        calls++;
        if (!(c instanceof Refused) && c.properties instanceof JsonText) fastProps++;
      }
      sameOutcome(text, translateSnowplow(JSON.parse(text), opts), fast);
      sameOutcome(text, translateSnowplow(JSON.parse(text), { ...opts, skew: false }), translateSnowplow(JSON.parse(text), { ...opts, skew: false, prepared: true }));
    }
    expect(calls).toBeGreaterThan(5_000);
    expect(fastProps).toBeGreaterThan(400);
  });
});
