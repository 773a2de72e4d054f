// isValidJsonText decides in Node what ClickHouse's isValidJSON says, for rows the query cache
// takes in from the sink. Whenever it answers (not null), it must agree with the real engine.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { isValidJsonText } from '../../src/query/jsontext.js';
import { tempDir, testConfig } from '../support/env.js';

describe('isValidJsonText against ClickHouse isValidJSON', () => {
  const dir = tempDir();
  let ch: ClickHouseHandle;
  beforeAll(async () => {
    const config = testConfig(dir.path);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await ch.client.command({ query: 'CREATE TABLE texts (i UInt32, s String) ENGINE = Memory' });
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  async function clickhouse(texts: string[]): Promise<boolean[]> {
    await ch.client.command({ query: 'TRUNCATE TABLE texts' });
    await ch.client.insert({ table: 'texts', values: texts.map((s, i) => ({ i, s })), format: 'JSONEachRow' });
    const rs = await ch.client.query({ query: 'SELECT isValidJSON(s) AS v FROM texts ORDER BY i', format: 'JSONCompactEachRow' });
    return (await rs.json<[number]>()).map(([v]) => v === 1);
  }

  it('agrees on the forms where JSON.parse and ClickHouse part ways, and says so when unsure', async () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const texts = [
      '{}', '', '{"a":1}', ' {"a":[1,2,{"b":null}]} ', '"x"', 'null', '{"a":1,"a":2}', '{"a":-0}', '{"a":1.5e300}',
      '{"a":"\\u00e9\\n\\t\\u0000"}', '{"😀":"é"}', '{"a":"\\ud83d\\ude00"}', '{"a":"\\ud800"}', '{"a":"\\uDC00x"}',
      '{"a":18446744073709551615}', '{"a":18446744073709551616}', '{"a":-9223372036854775809}', '{"a":1e400}', '{"a":1e-400}',
      deep(500), deep(1024), deep(1025), '{"a":"\\\\ud800"}', '{"a":tru}', '{"a":1,}', '{"a":"\u0001"}', '[1,]', '{"a":NaN}',
    ];
    const want = await clickhouse(texts);
    const got = texts.map(isValidJsonText);
    let decided = 0;
    texts.forEach((t, i) => {
      if (got[i] !== null) {
        decided++;
        expect(got[i], t.slice(0, 60)).toBe(want[i]);
      }
    });
    expect(decided).toBeGreaterThanOrEqual(11);
    // The common cases are decided, so the cache rarely has to reload a user.
    for (const t of ['{}', '', '{"a":1}', '{"😀":"é"}', '{"a":1.5e30}', deep(500)]) expect(isValidJsonText(t)).not.toBeNull();
  });

  it('agrees on arbitrary JSON texts and on texts cut short', async () => {
    const values = fc.sample(fc.jsonValue({ maxDepth: 6 }), { numRuns: 1500, seed: 11 });
    const texts: string[] = [];
    for (const v of values) {
      const t = JSON.stringify(v) ?? 'null';
      texts.push(t, t.slice(0, Math.floor(t.length / 2)));
    }
    const want = await clickhouse(texts);
    let decided = 0;
    texts.forEach((t, i) => {
      const got = isValidJsonText(t);
      if (got !== null) {
        decided++;
        expect(got, t.slice(0, 80)).toBe(want[i]);
      }
    });
    // Full texts are mostly decided (not: those with long numbers, exponents or surrogates); cut ones never.
    expect(decided).toBeGreaterThan(texts.length / 4);
  });
});
