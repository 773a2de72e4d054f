import { describe, expect, it } from 'vitest';
import { RECEIVED_AT, snowplowMobileEvent, storedRecords, tp2Body } from '../../../test/support/vendor-records.js';
import { JsonText } from '../jsontext.js';
import { schemaName, snowplowReplies, translateSnowplow } from './snowplow.js';
import { GIF_1X1, Refused } from './types.js';

const opts = { receivedAt: Date.UTC(2026, 10, 20, 10), skew: true };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('Snowplow tracker protocol -> Segment calls', () => {
  it('maps a page view field by field; aid is the key; dtm/stm become timestamp/sentAt', () => {
    const t = translateSnowplow(
      {
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [
          {
            e: 'pv',
            url: 'https://x.example/',
            page: 'Home',
            refr: 'https://ref.example/',
            aid: 'k1',
            p: 'web',
            tv: 'js-4.10.1',
            uid: 'u1',
            duid: 'd1',
            eid: 'e-1',
            dtm: '1795687200000',
            stm: '1795687201000',
            ua: 'UA',
            ip: '203.0.113.9',
            lang: 'de',
            tz: 'Europe/Berlin',
            res: '1920x1080',
            sid: 's1',
            vid: '3',
            cx: b64({ schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0', data: [{ schema: 'iglu:a/b/jsonschema/1-0-0', data: { x: 1 } }] }),
          },
        ],
      },
      opts,
    );
    expect(t.key).toBe('k1');
    expect(t.calls[0]).toEqual({
      type: 'page',
      name: 'Home',
      userId: 'u1',
      anonymousId: 'd1',
      messageId: 'e-1',
      writeKey: 'k1',
      timestamp: 1795687200000,
      sentAt: 1795687201000,
      properties: { url: 'https://x.example/', title: 'Home', referrer: 'https://ref.example/' },
      context: {
        page: { url: 'https://x.example/', title: 'Home', referrer: 'https://ref.example/' },
        userAgent: 'UA',
        ip: '203.0.113.9',
        locale: 'de',
        timezone: 'Europe/Berlin',
        screen: { width: 1920, height: 1080 },
        library: { name: 'js-4.10.1' },
        app: { id: 'k1' },
        platform: 'web',
        session: { id: 's1', index: 3 },
        contexts: [{ schema: 'iglu:a/b/jsonschema/1-0-0', data: { x: 1 } }],
      },
    });
  });

  it('maps structured, self-describing (ue_pr and ue_px), screen view, page ping and transaction events', () => {
    const ue = (data: unknown) => ({ schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0', data });
    const calls = translateSnowplow(
      [
        { e: 'se', se_ca: 'shop', se_ac: 'add', se_la: 'sku', se_pr: 'p', se_va: '3.5', duid: 'd' },
        { e: 'ue', ue_pr: JSON.stringify(ue({ schema: 'iglu:com.acme/button_click/jsonschema/1-0-0', data: { id: 'buy' } })), duid: 'd' },
        { e: 'ue', ue_px: b64(ue({ schema: 'iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0', data: { name: 'Settings', id: 'x' } })), duid: 'd' },
        { e: 'pp', pp_mix: '0', pp_max: '10', pp_miy: '5', pp_may: '50', duid: 'd' },
        { e: 'tr', tr_id: 'o1', tr_tt: '9.5', tr_cu: 'EUR', duid: 'd' },
        { e: 'ti', ti_id: 'o1', ti_sk: 's1', ti_pr: '2', ti_qu: '3', duid: 'd' },
      ],
      { ...opts, skew: false },
    ).calls;
    expect(calls[0]).toMatchObject({ type: 'track', event: 'add', properties: { category: 'shop', action: 'add', label: 'sku', property: 'p', value: 3.5 } });
    expect(calls[1]).toMatchObject({ type: 'track', event: 'button_click', properties: { id: 'buy' }, context: { snowplow: { schema: 'iglu:com.acme/button_click/jsonschema/1-0-0' } } });
    expect(calls[2]).toMatchObject({ type: 'screen', name: 'Settings' });
    expect(calls[3]).toMatchObject({ type: 'track', event: 'Page Ping', properties: { min_x: 0, max_x: 10, min_y: 5, max_y: 50 } });
    expect(calls[4]).toMatchObject({ type: 'track', event: 'Transaction', properties: { orderId: 'o1', total: 9.5, currency: 'EUR' } });
    expect(calls[5]).toMatchObject({ type: 'track', event: 'Transaction Item', properties: { orderId: 'o1', sku: 's1', price: 2, quantity: 3 } });
    expect(schemaName('iglu:com.acme/button_click/jsonschema/1-0-0')).toBe('button_click');
  });

  it('takes ttm as given, and no sentAt without skew correction (import)', () => {
    const [a, b] = translateSnowplow([{ e: 'pv', duid: 'd', ttm: '1795687200000', dtm: '1', stm: '2' }, { e: 'pv', duid: 'd', dtm: '1795687200000', stm: '1795687201000' }], { ...opts, skew: false }).calls;
    expect(a).toMatchObject({ timestamp: 1795687200000 });
    expect(a).not.toHaveProperty('sentAt');
    expect(b).not.toHaveProperty('sentAt');
  });

  it('times an event as Snowplow\'s derived_tstamp: moved back by stm - dtm only when dtm < stm, else (and without stm) the arrival', () => {
    const T = RECEIVED_AT;
    const tp2 = tp2Body([
      { e: 'pv', aid: 'k', uid: 'early', dtm: String(T - 60_000), stm: String(T - 55_000) },
      // The device's clock went back between creating and sending (an NTP sync): enrich takes the collector's time.
      { e: 'pv', aid: 'k', uid: 'back', dtm: String(T + 3_600_000), stm: String(T - 5_000) },
      // No stm (a GET with useStm off, an old tracker): the collector's time, not the device's.
      { e: 'pv', aid: 'k', uid: 'nostm', dtm: String(T - 86_400_000) },
      { e: 'pv', aid: 'k', uid: 'true', ttm: String(T - 86_400_000), dtm: String(T), stm: String(T) },
    ]);
    const rows = storedRecords('/com.snowplowanalytics.snowplow/tp2', tp2).records as { user_id: string; timestamp: number; sent_at: number | null }[];
    expect(rows.map((r) => [r.user_id, r.timestamp - T, r.sent_at === null ? null : r.sent_at - T])).toEqual([
      ['early', -5_000, -55_000],
      ['back', 0, -5_000],
      ['nostm', 0, null],
      ['true', -86_400_000, null],
    ]);
    // Without skew correction (import), dtm is kept as given.
    const [imported] = translateSnowplow({ e: 'pv', uid: 'u', dtm: String(T + 3_600_000), stm: String(T) }, { ...opts, skew: false }).calls;
    expect(imported).toMatchObject({ timestamp: T + 3_600_000 });
  });

  it('takes the request\'s User-Agent as the user agent of events without ua (the browser tracker sends none), as Snowplow\'s collector does', () => {
    const HEADER = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36';
    const body = tp2Body([
      { e: 'se', aid: 'k', duid: 'd', se_ca: 'c', se_ac: 'a' },
      { e: 'se', aid: 'k', duid: 'd', se_ca: 'c', se_ac: 'a', ua: 'set-by-setUseragent' },
    ]);
    const ua = (records: unknown[]) => records.map((r) => (JSON.parse((r as { context: string }).context) as { userAgent?: string }).userAgent);
    expect(ua(storedRecords('/com.snowplowanalytics.snowplow/tp2', body, '', HEADER).records)).toEqual([HEADER, 'set-by-setUseragent']);
    expect(ua(storedRecords('/i', '', 'e=pv&aid=k&duid=d&url=https%3A%2F%2Fx.example%2F', HEADER).records)).toEqual([HEADER]);
    // Without the header (the import), none.
    expect(ua(storedRecords('/com.snowplowanalytics.snowplow/tp2', body).records)).toEqual([undefined, 'set-by-setUseragent']);
    // The generic path (calls as plain objects) says the same.
    const plain = translateSnowplow(JSON.parse(body), { ...opts, userAgent: HEADER }).calls as { context: { userAgent?: string } }[];
    expect(plain.map((c) => c.context.userAgent)).toEqual([HEADER, 'set-by-setUseragent']);
  });

  it('refuses unknown event types, events without ids, bad times and unreadable self-describing events', () => {
    const t = translateSnowplow([{ e: 'xx', duid: 'd' }, { e: 'pv' }, { e: 'pv', duid: 'd', dtm: 'soon' }, { e: 'ue', ue_pr: '{nope', duid: 'd' }, { e: 'se', duid: 'd' }], opts);
    expect(t.calls.map((c) => (c instanceof Refused ? [c.code, c.field] : 'ok'))).toEqual([
      ['unknown_type', 'e'],
      ['missing_id', 'uid'],
      ['invalid_timestamp', 'dtm'],
      ['invalid_field', 'ue_pr'],
      ['missing_field', 'se_ac'],
    ]);
  });

  it('takes the session id as the anonymous id of anonymous tracking, which sends no uid, duid or network id', () => {
    const sid = 'c6ef3124-b53a-4b13-a233-0088f79dcbcb';
    const tp2 = tp2Body([{ e: 'pv', aid: 'k', sid, vid: '1', url: 'https://x.example/' }]);
    const [row] = storedRecords('/com.snowplowanalytics.snowplow/tp2', tp2).records as { user_id: string | null; anonymous_id: string }[];
    expect(row).toMatchObject({ user_id: null, anonymous_id: sid });
    // A device id still wins over the session id.
    expect(translateSnowplow({ e: 'pv', duid: 'd', sid }, opts).calls[0]).toMatchObject({ anonymousId: 'd' });
  });

  const DEVICE = '0f2b2c5e-5b7a-4c55-9a4e-3c2d1e0f9a8b';
  const SESSION = '9d7e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';

  it("takes a mobile tracker's client_session userId as the anonymous id (the mobile trackers send no duid)", () => {
    const body = tp2Body([
      snowplowMobileEvent({ userId: DEVICE, sessionId: SESSION }),
      snowplowMobileEvent({ userId: DEVICE, sessionId: SESSION }, { uid: 'user-7', eid: 'b2' }),
      // userAnonymisation: the session's userId is zeros; the session id stands in, as sid does for the browser's anonymous tracking.
      snowplowMobileEvent({ userId: '00000000-0000-0000-0000-000000000000', sessionId: SESSION, previousSessionId: null }, { eid: 'c3' }),
    ]);
    const { decoded, records } = storedRecords('/com.snowplowanalytics.snowplow/tp2', body);
    expect(decoded.translation.calls.filter((c) => c instanceof Refused)).toEqual([]);
    const rows = records as { type: string; properties: string; user_id: string | null; anonymous_id: string; context: string }[];
    expect(rows.map((r) => [r.type, JSON.parse(r.properties).name, r.user_id, r.anonymous_id])).toEqual([
      ['screen', 'Checkout', null, DEVICE],
      ['screen', 'Checkout', 'user-7', DEVICE],
      ['screen', 'Checkout', null, SESSION],
    ]);
    expect(JSON.parse(rows[0]!.context)).toMatchObject({ platform: 'mob', library: { name: 'andr-6.0.8' }, screen: { width: 1080, height: 2400 } });
    // The generic path (calls as plain objects) says the same; a duid still wins.
    expect(translateSnowplow(JSON.parse(body), opts).calls.map((c) => (c as { anonymousId?: string }).anonymousId)).toEqual([DEVICE, DEVICE, SESSION]);
    expect(translateSnowplow(snowplowMobileEvent({ userId: DEVICE }, { duid: 'd' }), opts).calls[0]).toMatchObject({ anonymousId: 'd' });
    // Written as co (base64encoding off) too; and no entity, no ids at all: refused as before.
    const plain = snowplowMobileEvent({ userId: DEVICE, sessionId: SESSION });
    const co = Buffer.from(plain.cx as string, 'base64url').toString();
    expect(translateSnowplow({ ...plain, cx: undefined, co }, opts).calls[0]).toMatchObject({ anonymousId: DEVICE });
    expect(translateSnowplow({ ...plain, cx: undefined }, opts).calls[0]).toBeInstanceOf(Refused);
  });

  it('reads dtm as Number() reads it, digits or not', () => {
    for (const dtm of ['1795687200000', '0001795687200000', '12', '1e3', ' 12', '0x10', '12.5', '+12', '-12', '１２', '1795687200000123', '17956872000001234', '9007199254740993']) {
      const t = translateSnowplow({ e: 'pv', uid: 'u', dtm }, { receivedAt: 0, skew: false });
      const call = t.calls[0]!;
      const want = Number(dtm);
      if (Number.isFinite(want) && Math.abs(want) <= 8.64e15) expect(call, dtm).toMatchObject({ timestamp: want });
      else expect(call, dtm).toBeInstanceOf(Refused);
    }
  });

  it('answers the pixel with a 1x1 GIF and tp2 with 200 ok', () => {
    const o = { accepted: 1, total: 1, rejected: null, bodyBytes: 0, receivedAt: 0 };
    expect(snowplowReplies(GIF_1X1).done(o)).toEqual({ status: 200, contentType: 'image/gif', body: GIF_1X1 });
    expect(GIF_1X1.subarray(0, 6).toString()).toBe('GIF89a');
    expect(snowplowReplies(null).done(o)).toEqual({ status: 200, contentType: 'text/plain', body: 'ok' });
    expect(snowplowReplies(null).done({ ...o, accepted: 0, rejected: [{ index: 0, code: 'unknown_type', error: 'x' }] }).status).toBe(400);
  });
});

describe('Snowplow bodies as the edge reads them: 64-bit integers kept as sent', () => {
  const WIDE = '12345678901234567891'; // JSON.parse reads 12345678901234567000
  const UE = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';
  const CX = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';
  const ORDER = 'iglu:com.acme/order_completed/jsonschema/1-0-0';
  const tp2 = (events: Record<string, unknown>[], uid = '"u-1"') =>
    JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: events.map((e) => ({ e: 'ue', aid: 'k', p: 'srv', uid: 'UID', dtm: '1795687200000', ...e })) }).replaceAll('"UID"', uid);

  it('stores a self-describing event\'s and its contexts\' wide integers as sent, written with spaces (Python\'s json.dumps), and a uid sent as one as its digits', () => {
    // As snowplow-tracker 1.1.0 (Python) writes them: json.dumps with spaces, ensure_ascii off; ue_px base64url.
    const ue = `{"schema": "${UE}", "data": {"schema": "${ORDER}", "data": {"big": ${WIDE}, "name": "Zoë", "n": 1.50}}}`;
    const cx = `{"schema": "${CX}", "data": [{"schema": "iglu:com.acme/user/jsonschema/1-0-0", "data": {"id": -9223372036854775808}}]}`;
    for (const e of [{ ue_px: Buffer.from(ue).toString('base64url'), cx: Buffer.from(cx).toString('base64url') }, { ue_pr: ue, co: cx }]) {
      const { decoded, records } = storedRecords('/com.snowplowanalytics.snowplow/tp2', tp2([e], WIDE));
      expect(decoded.vendor).toBe('snowplow');
      const r = records[0] as { properties: string; context: string };
      expect(records[0]).toMatchObject({ type: 'track', event: 'order_completed', user_id: WIDE });
      expect(r.properties).toBe(`{"big":${WIDE},"name":"Zoë","n":1.5}`);
      expect(r.context).toContain(`"contexts":[{"schema":"iglu:com.acme/user/jsonschema/1-0-0","data":{"id":-9223372036854775808}}]`);
    }
    // A canonical one (the JavaScript trackers') still takes the fast path: its data as its own text.
    const compact = JSON.stringify({ schema: UE, data: { schema: ORDER, data: { big: 'BIG', a: 1 } } }).replace('"BIG"', WIDE);
    const fast = storedRecords('/com.snowplowanalytics.snowplow/tp2', tp2([{ ue_pr: compact }]));
    expect((fast.decoded.translation.calls[0] as Record<string, unknown>).properties).toBeInstanceOf(JsonText);
    expect((fast.records[0] as { properties: string }).properties).toBe(`{"big":${WIDE},"a":1}`);
  });
});
