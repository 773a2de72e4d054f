// Segment's, RudderStack's, PostHog's, Mixpanel's, Amplitude's and Snowplow's Python SDKs (from PyPI, unchanged)
// send events whose properties hold 64-bit ids as JSON numbers, as a Python service's calls do;
// every digit is read back through the query API and from ClickHouse (ingest -> Kafka -> sink ->
// chDB -> query). JSON.parse would have rounded each to the nearest double (12345678901234567891
// to 12345678901234567000).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPythonScript } from '../support/python-clients.js';
import { WRITE_KEY } from './ingest-support.js';
import { startPipeline, type Pipeline } from './pipeline-support.js';
import { describeWithPython } from './python-suite.js';
import { wideId } from '../support/hostile-json.js';

describeWithPython('64-bit integers from the Python SDKs', (python) => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline();
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  });

  it('keeps every digit of properties and traits from the Segment, PostHog, Mixpanel, Amplitude and Snowplow SDKs, in the query API and in ClickHouse', async () => {
    const orderId = wideId();
    const segmentUser = wideId();
    const posthogUser = wideId();
    const mixpanelUser = wideId();
    const amplitudeUser = wideId();
    const snowplowUser = wideId();
    const rudderUser = `rudder-python-${wideId()}`;
    // Written as text: JavaScript cannot hold these numbers, Python reads them exactly.
    const properties = `{"order_id": ${orderId}, "int64_min": -9223372036854775808, "uint64_max": 18446744073709551615, "safe": 9007199254740991, "price": 1.50, "too_big": 123456789012345678901234567, "city": "Zoë 東京"}`;
    const users = `"segmentUser": ${segmentUser}, "posthogUser": ${posthogUser}, "mixpanelUser": ${mixpanelUser}, "amplitudeUser": ${amplitudeUser}, "snowplowUser": ${snowplowUser}`;
    const args = `{"host": "${p.ingest.url}", "writeKey": "${WRITE_KEY}", ${users}, "rudderUser": "${rudderUser}", "properties": ${properties}}`;
    const answer = await runPythonScript<{ errors: string[] }>(python, 'sdk-python.py', args);
    expect(answer.errors).toEqual([]);

    // The stored text as the query API answers it: the 64-bit integers as sent; 1.50 and a number
    // beyond 64 bits as JSON.stringify writes the double (ClickHouse would refuse the text otherwise).
    const members: [string, string][] = [
      ['order_id', orderId], ['int64_min', '-9223372036854775808'], ['uint64_max', '18446744073709551615'], ['safe', '9007199254740991'],
      ['price', '1.5'], ['too_big', '1.2345678901234568e+26'], ['city', '"Zoë 東京"'],
    ];
    const stored = members.map(([k, v]) => `"${k}":${v}`).join(',');
    // Amplitude's SDK writes its JSON with sorted keys.
    const sorted = [...members].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `"${k}":${v}`).join(',');
    const segment = await p.eventsText(segmentUser, 2);
    expect(segment).toContain(`"user_id":"${segmentUser}"`);
    expect(segment).toContain(`"properties":{${stored}}`);
    expect(segment).toContain(`"traits":{${stored}}`);
    // The request came from the site's backend: Segment fills context.ip "for client side events
    // only", so a server library's calls carry none (Mixpanel's client says so with ip=0, in the
    // form body); PostHog's capture records the caller's address, as here.
    for (const e of await p.eventsOf(segmentUser, 2)) expect(e.context, e.type).toEqual({ library: { name: 'analytics-python', version: expect.any(String) } });
    for (const e of await p.eventsOf(mixpanelUser, 2)) expect(e.context?.ip, e.type).toBeUndefined();
    for (const e of await p.eventsOf(posthogUser, 2)) expect(e.context?.ip, e.type).toBe('127.0.0.1');
    // rudder-sdk-python sends Segment's User-Agent, but marks its calls channel=server: RudderStack
    // fills the request's address (context_ip = context.ip, else request_ip), as here.
    const rudder = await p.eventsOf(rudderUser, 2);
    expect(rudder.map((e) => e.type).sort()).toEqual(['identify', 'track']);
    for (const e of rudder) expect(e.context, e.type).toMatchObject({ ip: '127.0.0.1', library: { name: 'analytics-python' } });
    // PostHog: an event, and a person update ($set) whose properties are the traits.
    const posthog = await p.eventsText(posthogUser, 2);
    expect(posthog).toContain(`"user_id":"${posthogUser}"`);
    expect(posthog).toContain(`"properties":{${stored},`);
    expect(posthog).toContain(`"traits":{${stored}}`);

    // Mixpanel: an event and a people update, the 64-bit distinct_id as the user id.
    const kinds = async (user: string, want: number) => (await p.eventsOf(user, want)).map((e) => `${e.type}:${e.event ?? ''}`).sort();
    expect(await kinds(mixpanelUser, 2)).toEqual(['identify:', 'track:Order Completed']);
    const mixpanel = await p.eventsText(mixpanelUser, 2);
    expect(mixpanel).toContain(`"user_id":"${mixpanelUser}"`);
    expect(mixpanel).toContain(`,${stored}}`); // after the SDK's own members (distinct_id, time, ...)
    expect(mixpanel).toContain(`"traits":{${stored}}`);
    // Amplitude: an event and an identify whose $set are the traits.
    expect(await kinds(amplitudeUser, 2)).toEqual(['identify:', 'track:Order Completed']);
    const amplitude = await p.eventsText(amplitudeUser, 2);
    expect(amplitude).toContain(`"user_id":"${amplitudeUser}"`);
    expect(amplitude).toContain(`"properties":{${sorted}}`);
    expect(amplitude).toContain(`"traits":{${sorted}}`);
    // Snowplow: a self-describing event (base64 ue_px) and its context (base64 cx).
    expect(await kinds(snowplowUser, 1)).toEqual(['track:order_completed']);
    const snowplow = await p.eventsText(snowplowUser, 1);
    expect(snowplow).toContain(`"user_id":"${snowplowUser}"`);
    expect(snowplow).toContain(`"properties":{${stored}}`);
    expect(snowplow).toContain(`"contexts":[{"schema":"iglu:com.acme/order/jsonschema/1-0-0","data":{"order_id":${orderId}}}]`);

    // A BI tool reading ClickHouse gets the integers exactly.
    const res = await p.clickhouse.query({
      query: `SELECT user_id, toString(JSONExtractUInt(properties, 'order_id')) AS order_id, toString(JSONExtractInt(properties, 'int64_min')) AS min,
                     toString(JSONExtractUInt(properties, 'uint64_max')) AS max
              FROM events WHERE user_id IN ({users:Array(String)}) AND type = 'track' AND event != '$set' ORDER BY user_id`,
      query_params: { users: [segmentUser, posthogUser, mixpanelUser, amplitudeUser, snowplowUser] },
      format: 'JSONEachRow',
    });
    const rows = (await res.json()) as { user_id: string; order_id: string; min: string; max: string }[];
    expect(rows).toEqual(
      [segmentUser, posthogUser, mixpanelUser, amplitudeUser, snowplowUser].sort().map((u) => ({ user_id: u, order_id: orderId, min: '-9223372036854775808', max: '18446744073709551615' })),
    );
  });
});
