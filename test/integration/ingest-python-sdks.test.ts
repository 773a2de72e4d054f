// Segment's and PostHog's Python SDKs (from PyPI, unchanged) send events whose properties hold
// 64-bit ids as JSON numbers, as a Python service's calls do; every digit is read back through
// the query API and from ClickHouse (ingest -> Kafka -> sink -> chDB -> query). JSON.parse would
// have rounded each to the nearest double (12345678901234567891 to 12345678901234567000).
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

  it('keeps every digit of properties and traits from analytics-python and posthog-python, in the query API and in ClickHouse', async () => {
    const orderId = wideId();
    const segmentUser = wideId();
    const posthogUser = wideId();
    // Written as text: JavaScript cannot hold these numbers, Python reads them exactly.
    const properties = `{"order_id": ${orderId}, "int64_min": -9223372036854775808, "uint64_max": 18446744073709551615, "safe": 9007199254740991, "price": 1.50, "too_big": 123456789012345678901234567}`;
    const args = `{"host": "${p.ingest.url}", "writeKey": "${WRITE_KEY}", "segmentUser": ${segmentUser}, "posthogUser": ${posthogUser}, "properties": ${properties}}`;
    const answer = await runPythonScript<{ errors: string[] }>(python, 'sdk-python.py', args);
    expect(answer.errors).toEqual([]);

    // The stored text as the query API answers it: the 64-bit integers as sent; 1.50 and a number
    // beyond 64 bits as JSON.stringify writes the double (ClickHouse would refuse the text otherwise).
    const stored = `"order_id":${orderId},"int64_min":-9223372036854775808,"uint64_max":18446744073709551615,"safe":9007199254740991,"price":1.5,"too_big":1.2345678901234568e+26`;
    const segment = await p.eventsText(segmentUser, 2);
    expect(segment).toContain(`"user_id":"${segmentUser}"`);
    expect(segment).toContain(`"properties":{${stored}}`);
    expect(segment).toContain(`"traits":{${stored}}`);
    const posthog = await p.eventsText(posthogUser, 1);
    expect(posthog).toContain(`"user_id":"${posthogUser}"`);
    expect(posthog).toContain(`"properties":{${stored},`);

    // A BI tool reading ClickHouse gets the integers exactly.
    const res = await p.clickhouse.query({
      query: `SELECT user_id, toString(JSONExtractUInt(properties, 'order_id')) AS order_id, toString(JSONExtractInt(properties, 'int64_min')) AS min,
                     toString(JSONExtractUInt(properties, 'uint64_max')) AS max
              FROM events WHERE user_id IN ({users:Array(String)}) AND type = 'track' ORDER BY user_id`,
      query_params: { users: [segmentUser, posthogUser] },
      format: 'JSONEachRow',
    });
    const rows = (await res.json()) as { user_id: string; order_id: string; min: string; max: string }[];
    expect(rows).toEqual(
      [segmentUser, posthogUser].sort().map((u) => ({ user_id: u, order_id: orderId, min: '-9223372036854775808', max: '18446744073709551615' })),
    );
  });
});
