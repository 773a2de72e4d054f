// The view renders a stored JSON text as null when ClickHouse's isValidJSON refuses it, and must
// agree with the real engine on every text, or its replies would differ from ClickHouse's: the
// forms where JSON.parse and ClickHouse part ways (nesting, surrogate escapes, 64-bit integers,
// doubles out of range, a byte order mark), random JSON, and random JSON damaged.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { isValidJson } from '../../src/view/jsonvalid.js';
import { tempDir, testConfig } from '../support/env.js';

describe("isValidJson against ClickHouse's isValidJSON", () => {
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
    // TabSeparated: JSONEachRow would refuse lone surrogate escapes in the texts themselves.
    const esc = (s: string) => s.replace(/[\\\t\n\r\0]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' })[c]!);
    await ch.client.exec({ query: 'INSERT INTO texts FORMAT TabSeparated', values: Readable.from([Buffer.from(texts.map((s, i) => `${i}\t${esc(s)}\n`).join(''))]) });
    const rs = await ch.client.query({ query: 'SELECT isValidJSON(s) AS v FROM texts ORDER BY i', format: 'JSONCompactEachRow' });
    return (await rs.json<[number]>()).map(([v]) => v === 1);
  }

  const agree = async (texts: string[]) => {
    const want = await clickhouse(texts);
    expect(want).toHaveLength(texts.length);
    const wrong = texts.filter((t, i) => isValidJson(t) !== want[i]).map((t) => t.slice(0, 80));
    expect(wrong).toEqual([]);
    return want;
  };

  it('agrees on the forms where JSON.parse and ClickHouse part ways', async () => {
    const deep = (n: number, inner = '') => '['.repeat(n) + inner + ']'.repeat(n);
    const want = await agree([
      '{}', '', ' ', '{"a":1}', ' {"a":[1,2,{"b":null}]} \n', '"x"', 'null', '1', '{"a":1,"a":2}', '{"a":-0}', '{"a":1.5e300}',
      '{"a":"\\u00e9\\n\\t\\u0000"}', '{"😀":"é"}', '{"a":"\\ud83d\\ude00"}', '{"a":"\\ud800"}', '{"a":"\\uDC00x"}', '{"a":"\\ud800\\u0041"}',
      '{"a":"\\udbff\\udfff"}', '{"a":"\\udc00\\ud800"}', '{"a":"\\\\ud800"}',
      '{"a":18446744073709551615}', '{"a":18446744073709551616}', '{"a":-9223372036854775808}', '{"a":-9223372036854775809}',
      '{"a":1e400}', '{"a":1e-400}', '{"a":1.7976931348623157e308}', '{"a":1.8e308}', `{"a":1${'0'.repeat(320)}.0}`, `{"a":1${'0'.repeat(300)}.5}`,
      '{"a":12345678901234567890e-10}', '{"a":0e400}', '{"a":1e5000000000}',
      deep(1024), deep(1025), deep(1023, '1'), deep(1024, '1'), deep(1023, '{}'), deep(1023, '{"a":1}'), deep(1022, '{"a":1}'),
      '{"a":'.repeat(1023) + '1' + '}'.repeat(1023), '{"a":'.repeat(1024) + '1' + '}'.repeat(1024),
      '\ufeff{}', '\ufeff {"a":1}', '\ufeff\ufeff{}', ' \ufeff{}', '\ufeff', '{"a":1}\u00a0', '{"a":1}\u0000',
      '{"a":tru}', '{"a":1,}', '[1,]', '{"a":NaN}', '{"a":01}', '{"a":.1}', '{"a":1.}', '{"a":+1}', '{"a":"\\x"}', '{"\u0001":1}',
    ]);
    // Both answers occur, so the comparison means something.
    expect(want.filter(Boolean).length).toBeGreaterThan(15);
    expect(want.filter((v) => !v).length).toBeGreaterThan(15);
  });

  it('agrees on random JSON texts, cut short, and damaged', async () => {
    const values = fc.sample(fc.jsonValue({ maxDepth: 6 }), { numRuns: 1500, seed: 11 });
    const texts: string[] = [];
    for (const v of values) {
      const t = JSON.stringify(v) ?? 'null';
      texts.push(t, t.slice(0, Math.floor(t.length / 2)), t.replace(/:/, '::'), t.replace(/\d/, '1e999'), t.replace(/"/, '"\\ud800'));
    }
    await agree(texts);
  });
});
