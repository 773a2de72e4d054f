// The all-in-one's read-only SQL port for BI tools, on a real chDB with the project's migrations:
// ClickHouse's own clients (@clickhouse/client, clickhouse-connect) read the tables through it as
// from a ClickHouse server, and nothing sent to it writes, reads the machine's files, or changes
// the engine the sink and the query API share.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient as HttpClient } from '@clickhouse/client';
import { uncompressSync } from 'lz4-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { createSqlEngine, serveNativePort, serveSqlPort, type ClickHouseHandle, type NativePort, type SqlPort } from '../../src/warehouse/index.js';
import { stringBytes } from '../../src/warehouse/native.js';
import { chdbWithEvents, helloPacket } from '../support/bi-engine.js';
import { OPENSSL, selfSignedCertificate } from '../support/certificate.js';
import { tempDir } from '../support/env.js';
import { rng } from '../support/rng.js';
import { runChild } from '../support/child.js';
import { exchange } from '../support/raw-http.js';
import { runPythonScript } from '../support/python-clients.js';
import { buildGo, buildJava, CLICKHOUSE_GO_PROBE, goProblem, JDBC_PROBE, javaProblem } from '../support/sdk-clients.js';
import { describeWithPython } from './python-suite.js';

const KEY = 'bi-read-key';
const DAY = '2026-11-30';

let dir: ReturnType<typeof tempDir>;
let ch: ClickHouseHandle;
let port: SqlPort;
let native: NativePort;
let tight: SqlPort;
let base = '';

/** The engine's own answer, in this process (not through the port). */
async function engine(query: string): Promise<string> {
  return (await ch.client.query({ query, format: 'TabSeparated' })).text();
}

/** A statement through the port: status, the exception code header, the body (as text and as bytes). */
async function sql(statement: string, opts: { key?: string | null; search?: Record<string, string>; url?: string; method?: string } = {}) {
  const url = new URL(opts.url ?? base);
  for (const [k, v] of Object.entries(opts.search ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['x-clickhouse-key'] = opts.key ?? KEY;
  const res = await fetch(url, { method: opts.method ?? 'POST', headers, body: (opts.method ?? 'POST') === 'POST' ? statement : undefined });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, statusText: res.statusText, code: res.headers.get('x-clickhouse-exception-code'), body: bytes.toString(), bytes, headers: res.headers };
}

/** A compress=1 body read back: each block's header checked, its LZ4 block inflated (lz4-napi wants the size before it). */
function unframe(bytes: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    expect(bytes[at + 16]).toBe(0x82);
    const hashed = bytes.readUInt32LE(at + 17);
    const size = bytes.readUInt32LE(at + 21);
    const block = bytes.subarray(at + 25, at + 16 + hashed);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(size);
    parts.push(uncompressSync(Buffer.concat([prefix, block])));
    at += 16 + hashed;
  }
  return Buffer.concat(parts).toString();
}

beforeAll(async () => {
  dir = tempDir('trackhouse-sqlport-');
  const log = createLogger('silent');
  ch = await chdbWithEvents(dir.path, DAY, [
    ['e1', 'Signed Up', 'u-1', 10, 'signup'],
    ['e2', 'Signed Up', 'u-2', 11, 'signup'],
    ['e3', 'Order Completed', 'u-1', 12, 'checkout'],
  ]);
  // Both ports over one engine gate, as trackhouse start serves them.
  const engine = await createSqlEngine(ch.client);
  port = await serveSqlPort({ engine, host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log });
  native = await serveNativePort({ engine, host: '127.0.0.1', port: 0, portVariable: 'BI_NATIVE_PORT', readKeys: new Set([KEY]), log });
  tight = await serveSqlPort({
    engine: await createSqlEngine(ch.client, { limits: { maxSeconds: 1, maxResultBytes: 10_000, maxMemoryBytes: 20_000_000 } }),
    host: '127.0.0.1',
    port: 0,
    portVariable: 'BI_PORT',
    readKeys: new Set([KEY]),
    log,
  });
  base = `http://127.0.0.1:${port.port}/`;
});

afterAll(async () => {
  port?.close();
  native?.close();
  tight?.close();
  await ch?.close();
  dir?.remove();
});

describe('the read-only SQL port with ClickHouse\'s JS client', () => {
  let client: HttpClient;
  beforeAll(() => {
    // Its log off: the refusals below are expected, and it would print each one.
    client = createClient({ url: base, username: 'grafana', password: KEY, log: { level: ClickHouseLogLevel.OFF } });
  });
  afterAll(async () => client.close());

  it('reads the rollup view, the events with bound parameters, and the table list, as from a server', async () => {
    const rollups = await (await client.query({ query: 'SELECT toString(day) AS day, event, events, users FROM events_daily_by_event_v ORDER BY event', format: 'JSONEachRow' })).json();
    expect(rollups).toEqual([
      { day: DAY, event: 'Order Completed', events: '1', users: '1' },
      { day: DAY, event: 'Signed Up', events: '2', users: '2' },
    ]);
    const events = await (
      await client.query({ query: 'SELECT event_id FROM events WHERE user_id = {user:String} AND timestamp >= {from:DateTime64(3)} ORDER BY timestamp', query_params: { user: "u-1", from: `${DAY} 11:00:00.000` }, format: 'JSONEachRow' })
    ).json();
    expect(events).toEqual([{ event_id: 'e3' }]);
    const tables = await (await client.query({ query: 'SHOW TABLES', format: 'JSONEachRow' })).json<{ name: string }>();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['events', 'events_daily_by_event_v', 'events_daily_by_category_v', 'events_daily_by_group_v']));
    expect(await client.ping()).toMatchObject({ success: true });
  });

  it('passes URL settings to the query alone: the shared engine keeps its own', async () => {
    const before = (await engine("SELECT getSetting('max_threads')")).trim();
    // A value other than the engine's own, whatever the machine's core count makes that.
    const asked = Number(before) + 1;
    const seen = await (await client.query({ query: "SELECT toString(getSetting('max_threads')) AS v", format: 'JSONEachRow', clickhouse_settings: { max_threads: asked } })).json<{ v: string }>();
    expect(seen).toEqual([{ v: String(asked) }]);
    expect((await engine("SELECT getSetting('max_threads')")).trim()).toBe(before);
    expect((await engine("SELECT getSetting('readonly')")).trim()).toBe('0');
  });

  it('refuses an INSERT with ClickHouse\'s READONLY error, and the table is unchanged', async () => {
    await expect(client.command({ query: "INSERT INTO events (event_id) VALUES ('x')" })).rejects.toMatchObject({ code: '164', type: 'READONLY' });
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
  });
});

describe('the read-only SQL port refuses', () => {
  const outfile = () => path.join(dir.path, 'written.txt');

  it.each([
    ['DROP TABLE events', /not Drop/],
    ['TRUNCATE TABLE events', /not Truncate/],
    ["INSERT INTO events (event_id) SELECT 'x'", /not Insert/],
    ['ALTER TABLE events DELETE WHERE 1', /not Alter/],
    ['CREATE TABLE x (a UInt8) ENGINE = Memory', /not Create/],
    ['SET readonly = 0', /not Set/],
    ['SYSTEM DROP MARK CACHE', /not SYSTEM/],
    ['KILL QUERY WHERE 1', /not KillQuery/],
    ['OPTIMIZE TABLE events FINAL', /not Optimize/],
    ["SELECT * FROM url('http://127.0.0.1:9/', CSV, 'a String')", /table function url\(\) is not served/],
    ["SELECT * FROM view(SELECT * FROM file('/etc/hostname', LineAsString))", /table function file\(\) is not served/],
    ["SELECT file('/etc/hostname')", /file\(\) reads/],
    ["SELECT arrayMap(x -> `file`(x), ['/etc/hostname'])", /file\(\) reads/],
    ["SELECT * FROM (SELECT * FROM system.one SETTINGS readonly = 0)", /SETTINGS in the statement/],
    ["SELECT * FROM s3('http://127.0.0.1:9/b/k', CSV)", /table function s3\(\) is not served/],
    ['EXPLAIN PIPELINE INSERT INTO events (event_id) SELECT 1', /EXPLAIN only of a SELECT/],
  ])('%s', async (statement, message) => {
    const r = await sql(statement);
    expect(r.status).toBe(403);
    expect(r.code).toBe('164');
    expect(r.body).toMatch(message);
    expect(r.body).toMatch(/^Code: 164\. DB::Exception: .*\(READONLY\) \(version \d+\.\d+/);
  });

  it('every statement of a random mix of reads, writes, file and network access that is not read-only: nothing written or read outside, the engine as it was', async () => {
    const secret = path.join(dir.path, 'secret.txt');
    writeFileSync(secret, 'SECRET-CANARY\n');
    const written = path.join(dir.path, 'written-canary.txt');
    const heads = ['SELECT count() FROM', 'SELECT * FROM', "INSERT INTO events (event_id) SELECT 'x' FROM", 'CREATE TABLE z ENGINE = Memory AS SELECT * FROM', 'EXPLAIN SELECT * FROM', 'DESCRIBE TABLE', 'SELECT * FROM numbers(1) JOIN'];
    const sources = [
      'events',
      'numbers(3)',
      `file('${secret}', LineAsString)`,
      `url('http://127.0.0.1:9/', LineAsString)`,
      `view(SELECT * FROM file('${secret}', LineAsString))`,
      '(SELECT * FROM events SETTINGS readonly = 0)',
      "merge('default', '^events$')",
      `(SELECT file('${secret}') AS line)`,
    ];
    const tails = ['', 'SETTINGS readonly = 0', `INTO OUTFILE '${written}'`, 'FORMAT JSON', '; DROP TABLE events', 'LIMIT 1', 'ON 1'];
    const alone = ['DROP TABLE events', 'TRUNCATE TABLE events', 'SET readonly = 0', 'SYSTEM DROP MARK CACHE', 'KILL QUERY WHERE 1', 'OPTIMIZE TABLE events', `SELECT file('${secret}')`];
    const random = rng(20261205);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const seen: Record<number, number> = {};
    for (let i = 0; i < 200; i++) {
      const statement = random() < 0.15 ? pick(alone) : `${pick(heads)} ${pick(sources)} ${pick(tails)}`;
      const r = await sql(statement, random() < 0.3 ? { search: { readonly: '0', max_memory_usage: '0' } } : {});
      seen[r.status] = (seen[r.status] ?? 0) + 1;
      expect([200, 400, 403, 404, 408, 500, 501], statement).toContain(r.status);
      expect(r.body, statement).not.toContain('SECRET-CANARY');
      expect(existsSync(written), statement).toBe(false);
    }
    // Enough of each kind to mean something: answers, refusals, and statements the engine rejected.
    expect(seen[200] ?? 0).toBeGreaterThanOrEqual(5);
    expect(seen[403] ?? 0).toBeGreaterThanOrEqual(50);
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
    expect((await engine("SELECT count() FROM system.tables WHERE database = 'default' AND name = 'z'")).trim()).toBe('0');
    expect((await engine("SELECT getSetting('readonly')")).trim()).toBe('0');
    expect(existsSync(written)).toBe(false);
    expect((await sql('SELECT 1')).body).toBe('1\n');
  });

  it.each(['SELECT 1', 'EXPLAIN SELECT 1', 'SHOW TABLES', 'DESCRIBE TABLE events', 'EXISTS TABLE events', 'SHOW CREATE TABLE events', 'SHOW COLUMNS FROM events'])(
    '%s INTO OUTFILE, and writes no file',
    async (statement) => {
      const r = await sql(`${statement} INTO OUTFILE '${outfile()}'`);
      expect([r.status, r.code]).toEqual([403, '164']);
      expect(r.body).toMatch(/INTO OUTFILE writes the server's files/);
      expect(existsSync(outfile())).toBe(false);
    },
  );

  it('a second statement after a SELECT, running neither', async () => {
    const r = await sql('SELECT 1; DROP TABLE events');
    expect([r.status, r.code]).toEqual([400, '62']);
    expect(r.body).toMatch(/Multi-statements are not allowed/);
    expect(r.body).not.toMatch(/formatQuerySingleLine/);
    expect((await engine('EXISTS TABLE events')).trim()).toBe('1');
  });

  it('readonly=0 or a higher limit in the URL: the port\'s own settings win', async () => {
    const r = await sql("INSERT INTO events (event_id) VALUES ('x')", { search: { readonly: '0' } });
    expect([r.status, r.code]).toEqual([403, '164']);
    // The INSERT is refused before any setting applies; what readonly=0 in the URL leaves is seen here.
    expect((await sql("SELECT getSetting('readonly')", { search: { readonly: '0' } })).body).toBe('1\n');
    const big = await sql('SELECT * FROM numbers(100000)', { url: `http://127.0.0.1:${tight.port}/`, search: { max_result_bytes: '1000000000' } });
    expect([big.status, big.code]).toEqual([400, '396']);
  });

  it('a statement holding more memory than its limit, even with max_memory_usage=0 (no limit) in the URL', async () => {
    const r = await sql('SELECT length(groupArray(number)) FROM numbers(10000000)', { url: `http://127.0.0.1:${tight.port}/`, search: { max_memory_usage: '0' } });
    expect([r.status, r.code]).toEqual([500, '241']);
    expect(r.body).toMatch(/MEMORY_LIMIT_EXCEEDED/);
  });

  it('a statement past the time limit, with ClickHouse\'s TIMEOUT_EXCEEDED', async () => {
    const r = await sql('SELECT sleep(2)', { url: `http://127.0.0.1:${tight.port}/` });
    expect([r.status, r.code]).toEqual([408, '159']);
  });

  it('a URL setting that names a server file: none is read into an answer or written (format_template_*, format_schema, output_format_schema)', async () => {
    const secret = path.join(dir.path, 'secret.txt');
    writeFileSync(secret, 'top-secret-contents\n');
    const written = path.join(dir.path, 'written.proto');
    const answers = [
      await sql('SELECT 1 FORMAT Template', { search: { format_template_resultset: secret } }),
      await sql('SELECT 1 FORMAT Template', { search: { format_template_row: secret } }),
      await sql('SELECT 1 AS a FORMAT Protobuf', { search: { format_schema: `${secret}:M` } }),
      await sql('SELECT 1 AS a FORMAT Protobuf', { search: { output_format_schema: written } }),
    ];
    for (const r of answers) {
      expect([r.status, r.code]).toEqual([403, '164']);
      expect(r.body).toMatch(/names a file, directory or address of the server/);
      expect(r.body).not.toMatch(/top-secret/);
    }
    expect(existsSync(written)).toBe(false);
  });

  it('a query_id with a line break: 400 before the key is asked for, and nothing of it among the headers', async () => {
    const { port: p } = new URL(base);
    const [r] = await exchange(Number(p), [{ method: 'GET', path: '/?query=SELECT+1&query_id=a%0d%0aSet-Cookie:%20x=1%0d%0a%0d%0ainjected' }]);
    expect([r!.status, r!.headers['x-clickhouse-exception-code']]).toEqual([400, '36']);
    expect(r!.headers['set-cookie']).toBeUndefined();
    expect(r!.headers['x-clickhouse-query-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r!.body).toMatch(/query_id/);
  });

  it('a request without a read key (401, asking for Basic credentials) or with a wrong one (403); the key as user name passes', async () => {
    const none = await sql('SELECT 1', { key: null });
    expect([none.status, none.code]).toEqual([401, '194']);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await sql('SELECT 1', { key: 'not-a-key' });
    expect([wrong.status, wrong.code]).toEqual([403, '516']);
    const asUser = await fetch(`${base}?query=SELECT+1`, { headers: { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` } });
    expect([asUser.status, await asUser.text()]).toEqual([200, '1\n']);
  });

  it('more statements at once than it lets wait for the engine, with 503 and Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => sql('SELECT sleep(0.5)')));
    const busy = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(8);
    expect(busy).toHaveLength(2);
    expect(busy[0]!.code).toBe('202');
    expect(busy[0]!.headers.get('retry-after')).toBe('1');
  });
});

describe('the read-only SQL port speaks ClickHouse\'s HTTP interface', () => {
  it('answers Ok. on GET / and /ping, and a GET with query= and default_format', async () => {
    expect(await (await fetch(base)).text()).toBe('Ok.\n');
    expect(await (await fetch(`${base}ping`)).text()).toBe('Ok.\n');
    const head = await fetch(`${base}ping`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), await head.text()]).toEqual([200, '4', '']);
    // The connection stays usable after a HEAD: no stray body was sent on it.
    expect(await (await fetch(`${base}ping`)).text()).toBe('Ok.\n');
    const r = await sql('', { method: 'GET', search: { query: 'SELECT count() AS n FROM events', default_format: 'JSONCompact' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('x-clickhouse-format')).toBe('JSONCompact');
    expect(JSON.parse(r.body).data).toEqual([['3']]);
  });

  it('answers a CORS preflight with 204, and adds CORS headers to answers and errors only with add_http_cors_header=1', async () => {
    const preflight = await fetch(base, { method: 'OPTIONS', headers: { origin: 'http://tool.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-clickhouse-key' } });
    expect([preflight.status, preflight.headers.get('access-control-allow-origin'), preflight.headers.get('access-control-allow-methods')]).toEqual([204, '*', 'POST, GET, OPTIONS']);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/x-clickhouse-key/);
    const withCors = await sql('SELECT 1', { search: { add_http_cors_header: '1' } });
    const refused = await sql('DROP TABLE events', { search: { add_http_cors_header: '1' } });
    const without = await sql('SELECT 1');
    expect([withCors.status, withCors.headers.get('access-control-allow-origin'), withCors.headers.get('access-control-expose-headers')]).toEqual([200, '*', expect.stringContaining('X-ClickHouse-Exception-Code')]);
    expect([refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([403, '*']);
    expect([without.status, without.headers.get('access-control-allow-origin')]).toEqual([200, null]);
    // Not a setting: the engine is not asked for it (it would refuse an unknown one).
    expect(withCors.body).toBe('1\n');
  });

  it('joins a statement begun in query= with the rest in the body, as ClickHouse does, and takes query= alone on a POST', async () => {
    expect((await sql(' count() FROM events', { search: { query: 'SELECT' } })).body).toBe('3\n');
    expect((await sql('', { search: { query: 'SELECT 42' } })).body).toBe('42\n');
  });

  it('gives back the place of a client that leaves before its body is whole', async () => {
    const { port: p } = new URL(base);
    // More than the 8 places the port has: with none given back, the SELECT below would get 503.
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(p), '127.0.0.1', () => {
          socket.write(`POST / HTTP/1.1\r\nHost: x\r\nX-ClickHouse-Key: ${KEY}\r\nContent-Length: 100\r\n\r\nSELECT `);
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
    }
    await sleep(100);
    const r = await sql('SELECT 1');
    expect([r.status, r.body]).toEqual([200, '1\n']);
  });

  it('takes the FORMAT clause over default_format, and TabSeparated when neither says', async () => {
    const tsv = await sql('SELECT event_id, user_id FROM events ORDER BY event_id LIMIT 2');
    expect(tsv.body).toBe('e1\tu-1\ne2\tu-2\n');
    expect(tsv.headers.get('x-clickhouse-format')).toBe('TabSeparated');
    const csv = await sql('SELECT event_id FROM events ORDER BY event_id LIMIT 1 FORMAT CSVWithNames', { search: { default_format: 'JSON' } });
    expect(csv.body).toBe('"event_id"\n"e1"\n');
    expect(csv.headers.get('x-clickhouse-format')).toBe('CSVWithNames');
    const quoted = await sql("SELECT ' FORMAT JSON SETTINGS ' AS s");
    expect([quoted.body, quoted.headers.get('x-clickhouse-format')]).toEqual([' FORMAT JSON SETTINGS \n', 'TabSeparated']);
  });

  const nativeOf = async (statement: string, protocol: string) => {
    const r = await sql(statement, { search: { default_format: 'Native', client_protocol_version: protocol } });
    expect([r.status, r.headers.get('x-clickhouse-format')], `${statement}: ${r.body}`).toEqual([200, 'Native']);
    return r.bytes;
  };
  /** A varuint of a Native header and where it ends. */
  const varuintAt = (b: Buffer, at: number): [number, number] => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = b[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return [value, at];
    }
  };
  /**
   * The port's answer at revision 54460 for these columns, against the oracle: the engine's answer
   * for each column alone (revision 0; one block of `rows`), its type followed by the 0 byte, all
   * behind one BlockInfo; and at revision 0, the engine's own bytes.
   */
  async function expectRelaid(columns: string[], from: string, rows: number) {
    const expected: Buffer[] = [Buffer.from('0100' + '02ffffffff' + '00', 'hex'), Buffer.from([columns.length, rows])];
    const plain: Buffer[] = [Buffer.from([columns.length, rows])];
    for (const c of columns) {
      const one = await nativeOf(`SELECT ${c} ${from}`, '0');
      expect([one[0], one[1]], c).toEqual([1, rows]);
      const [nameLength, nameAt] = varuintAt(one, 2);
      const [typeLength, typeAt] = varuintAt(one, nameAt + nameLength);
      const typeEnd = typeAt + typeLength;
      expected.push(one.subarray(2, typeEnd), Buffer.from([0]), one.subarray(typeEnd));
      plain.push(one.subarray(2));
    }
    const whole = `SELECT ${columns.join(', ')} ${from}`;
    expect((await nativeOf(whole, '54460')).toString('hex')).toBe(Buffer.concat(expected).toString('hex'));
    expect((await nativeOf(whole, '0')).toString('hex')).toBe(Buffer.concat(plain).toString('hex'));
  }

  it('writes Native in the layout of the client protocol sent: the engine\'s own columns, with BlockInfo and a no-custom-serialization byte each', async () => {
    await expectRelaid(
      [
        'event_id', 'type', 'timestamp', 'sent_at', 'kafka_offset', '[event, category] AS pair', 'map(source, kafka_partition) AS by_source',
        '(user_id, toLowCardinality(event)) AS t', 'toDecimal64(kafka_offset, 2) AS d', 'if(user_id = \'u-1\', NULL, user_id) AS maybe', 'toUUID(\'00000000-0000-0000-0000-00000000002a\') AS u',
      ],
      'FROM events ORDER BY event_id',
      3,
    );
    // Before custom serializations: BlockInfo only; before LowCardinality in Native: refused, as its column would need converting.
    const older = await nativeOf('SELECT event_id FROM events ORDER BY event_id LIMIT 1', '54405');
    expect(older.subarray(0, 10).toString('hex')).toBe('0100' + '02ffffffff' + '00' + '0101');
    const ancient = await sql('SELECT type FROM events', { search: { default_format: 'Native', client_protocol_version: '54400' } });
    expect([ancient.status, ancient.code]).toEqual([501, '48']);
    expect(ancient.body).toMatch(/client protocol 54400 is not served here for column type of type LowCardinality\(String\)/);
    const dynamic = await sql('SELECT 1::Dynamic AS x', { search: { default_format: 'Native', client_protocol_version: '54460' } });
    expect([dynamic.status, dynamic.statusText, dynamic.code]).toEqual([501, 'Not Implemented', '48']);
    expect(dynamic.body).toMatch(/column x of type Dynamic; cast it/);
  });

  it('re-lays every type it knows as the engine writes it, nested and wide ones included', async () => {
    await expectRelaid(
      [
        "[if(number = 1, NULL, 'a'), 'b'] AS nullable_items", "map(toLowCardinality(toString(number)), number) AS lc_keys", 'range(number) AS ragged',
        '[range(number), [7]] AS nested', "toDate32('2020-01-01') + number AS d32", "toDateTime64('2020-01-01 00:00:00', 6, 'UTC') AS dt6",
        "toIPv4('1.2.3.4') AS ip4", "toIPv6('::1') AS ip6", 'number % 2 = 0 AS flag', 'toInt128(-1) * number AS i128', 'toUInt256(number) AS u256',
        'toDecimal128(number, 3) AS d128', "CAST(if(number = 0, 'a', 'b'), 'Enum16(\\'a\\' = 1, \\'b\\' = 1000)') AS e16", "toFixedString('ab', 2) AS fixed",
        "toLowCardinality(toNullable(if(number = 2, NULL, toFixedString('cd', 2)))) AS lc_fixed", 'toIntervalDay(number) AS days', '[] AS nothing',
        "CAST((number, if(number = 3, NULL, 'x')), 'Tuple(a Int8, b Nullable(String))') AS named", "[(1., 2.)]::Ring AS ring", "[[(1., 2.)]]::Polygon AS polygon",
        "repeat('x', 300 + number) AS long_text", "[toLowCardinality(toString(number)), 'k']::Array(LowCardinality(Nullable(String))) AS lc_items",
        'toBFloat16(1.5) AS bf16', 'toFloat32(number) / 3 AS f32', "toDateTime(number, 'UTC') AS dt",
      ],
      'FROM numbers(4)',
      4,
    );
  });

  it('with compress=1 sends results and errors in ClickHouse\'s compressed blocks, and 401/403 plain, as a server does', async () => {
    const framed = (statement: string, key?: string | null) => sql(statement, { search: { compress: '1' }, ...(key === undefined ? {} : { key }) });
    const ok = await framed('SELECT event_id FROM events ORDER BY event_id');
    expect(ok.status).toBe(200);
    expect(unframe(ok.bytes)).toBe('e1\ne2\ne3\n');
    const missing = await framed('SELECT * FROM no_such_table');
    expect(missing.status).toBe(404);
    expect(unframe(missing.bytes)).toMatch(/^Code: 60\. DB::Exception: /);
    const refused = await framed('DROP TABLE events');
    expect(refused.status).toBe(403);
    expect(refused.bytes.toString()).toMatch(/^Code: 164\. /);
    const anonymous = await framed('SELECT 1', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.bytes.toString()).toMatch(/^Code: 194\. /);
  });

  it('counts its statements by outcome and times them, for the /metrics it is given', async () => {
    const registry = createRegistry('query', false);
    const counted = await serveSqlPort({ engine: await createSqlEngine(ch.client, { registry }), host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log: createLogger('silent') });
    try {
      const url = `http://127.0.0.1:${counted.port}/`;
      expect((await sql('SELECT 1', { url })).status).toBe(200);
      expect((await sql('DROP TABLE events', { url })).status).toBe(403);
      expect((await sql('SELECT * FROM no_such_table', { url })).status).toBe(404);
      expect((await sql('SELECT 1', { url, key: 'wrong' })).status).toBe(403);
      const text = await registry.metrics();
      for (const [outcome, n] of [['ok', 1], ['refused', 1], ['failed', 1], ['unauthorized', 1], ['busy', 0]] as const) {
        expect(text).toContain(`trackhouse_sql_statements_total{outcome="${outcome}",component="query"} ${n}`);
      }
      expect(text).toContain('trackhouse_sql_statement_seconds_count{component="query"} 3');
    } finally {
      counted.close();
    }
  });

  it('drops a statement whose client left while it waited for the engine: it never runs', async () => {
    const registry = createRegistry('query', false);
    const counted = await serveSqlPort({ engine: await createSqlEngine(ch.biClient, { registry }), host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log: createLogger('silent') });
    try {
      const url = `http://127.0.0.1:${counted.port}/`;
      const running = sql('SELECT sleep(1)', { url });
      await sleep(200);
      // Each of its engine calls waits behind the running statement's call of the same step, so its
      // last one (the statement itself) waits for the sleep: run, it would fail (no such table).
      const gone = new AbortController();
      const left = fetch(url, { method: 'POST', headers: { 'x-clickhouse-key': KEY }, body: 'SELECT * FROM no_such_table_left', signal: gone.signal }).then(
        (r) => r.status,
        (err: Error) => err.name,
      );
      await sleep(200);
      gone.abort();
      expect(await left).toBe('AbortError');
      expect((await running).status).toBe(200);
      expect((await sql('SELECT 2', { url })).body).toBe('2\n');
      const text = await registry.metrics();
      for (const [outcome, n] of [['ok', 2], ['failed', 0], ['abandoned', 1]] as const) {
        expect(text).toContain(`trackhouse_sql_statements_total{outcome="${outcome}",component="query"} ${n}`);
      }
    } finally {
      counted.close();
    }
  });

  it('answers for the default database only, where every table is, and says so for another', async () => {
    const other = await sql('SELECT 1', { search: { database: 'analytics' } });
    expect([other.status, other.code]).toEqual([404, '81']);
    expect(other.body).toMatch(/trackhouse's tables are in default/);
    expect((await sql('SELECT 1', { search: { database: 'default' } })).status).toBe(200);
  });

  it('answers an unknown table with 404 and the engine\'s code, and an empty statement with 400', async () => {
    const missing = await sql('SELECT * FROM no_such_table');
    expect([missing.status, missing.code]).toEqual([404, '60']);
    const empty = await sql('  ');
    expect([empty.status, empty.code]).toEqual([400, '62']);
  });
});

describeWithPython('the read-only SQL port with clickhouse-connect (Python)', (python) => {
  it('reads the rollups and a user\'s events in its Native format, and is refused a DROP', async () => {
    const out = await runPythonScript<{ version: string; columns: string[]; rollups: unknown[][]; events: unknown[][]; drop: string }>(python, 'clickhouse-connect.py', {
      host: '127.0.0.1',
      port: port.port,
      key: KEY,
      user: 'u-2',
    });
    expect(out.version).toMatch(/^\d+\.\d+/);
    expect(out.columns).toEqual(['toString(day)', 'event', 'events', 'users']);
    expect(out.rollups).toEqual([
      [DAY, 'Order Completed', 1, 1],
      [DAY, 'Signed Up', 2, 2],
    ]);
    expect(out.events).toEqual([['e2', 'u-2', Date.parse(`${DAY}T11:00:00Z`)]]);
    expect(out.drop).toMatch(/code: 164/);
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
  });
});

describeWithPython('the read-only native SQL port with clickhouse-driver (Python)', (python) => {
  it("reads the rollups, an event by a server-side parameter and an empty result's columns with each compression, and is refused a DROP", async () => {
    type Run = { server: string; rollups: unknown[][]; events: unknown[][]; empty: string[][]; drop: string };
    const out = await runPythonScript<Record<string, Run>>(python, 'clickhouse-driver.py', { host: '127.0.0.1', port: native.port, key: KEY, user: 'u-2' });
    expect(Object.keys(out)).toEqual(['False', 'lz4', 'zstd']);
    for (const [compression, run] of Object.entries(out)) {
      expect(run, compression).toEqual({
        server: 'ClickHouse 54460',
        rollups: [
          [DAY, 'Order Completed', 1, 1],
          [DAY, 'Signed Up', 2, 2],
        ],
        // The parameter went escaped twice (the driver's way), and comes back as sent.
        events: [['e2', 'u-2', "it's a\ttab \\ and a quote"]],
        empty: [
          ['event', 'String'],
          ['users', 'UInt64'],
        ],
        drop: expect.stringMatching(/^code 164: .*not Drop/),
      });
    }
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
  });
});

describe('the read-only native SQL port, packet by packet', () => {
  const str = stringBytes;
  /** A Query with no client info (kind 0), no settings, stage Complete, uncompressed; then the empty block. */
  const query = (sql: string) =>
    Buffer.concat([Buffer.from([1]), str('q'), Buffer.from([0]), str(''), str(''), Buffer.from([2, 0]), str(sql), str(''), Buffer.from([2]), str(''), Buffer.from('0100' + '02ffffffff' + '00' + '0000', 'hex')]);
  /** A client of revision 54460 that says hello to `database` and sends `then`; what the server sent until it closed or went quiet. */
  async function converse(database: string, then: Buffer[] = [], quietMs = 1500): Promise<{ bytes: Buffer; closed: boolean }> {
    const packet = helloPacket(KEY, database);
    return new Promise((resolve, reject) => {
      const socket = net.connect(native.port, '127.0.0.1');
      const got: Buffer[] = [];
      let closed = false;
      let timer: NodeJS.Timeout;
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ bytes: Buffer.concat(got), closed });
      };
      const quiet = () => {
        clearTimeout(timer);
        timer = setTimeout(done, quietMs);
      };
      socket.on('connect', () => {
        socket.write(Buffer.concat([packet, str(''), ...then]));
        quiet();
      });
      socket.on('data', (d: Buffer) => {
        got.push(d);
        quiet();
      });
      socket.on('end', () => {
        closed = true;
        done();
      });
      socket.on('error', reject);
    });
  }
  const exceptionOf = (bytes: Buffer, at: number) => {
    expect(bytes[at]).toBe(2);
    const code = bytes.readInt32LE(at + 1);
    const text = bytes.subarray(at + 5).toString('latin1');
    return { code, text };
  };

  it('refuses another database at the hello, with UNKNOWN_DATABASE, and closes', async () => {
    const r = await converse('analytics');
    expect(r.closed).toBe(true);
    const e = exceptionOf(r.bytes, 0);
    expect(e.code).toBe(81);
    expect(e.text).toMatch(/Database analytics does not exist here: trackhouse's tables are in default\. \(UNKNOWN_DATABASE\)/);
  });

  it('answers a Ping with a Pong after its hello, and a packet out of turn with an exception, then closes', async () => {
    const r = await converse('default', [Buffer.from([4]), Buffer.from([9])]);
    const helloEnd = r.bytes.indexOf(Buffer.from('trackhouse')) + 'trackhouse'.length + 1;
    expect(r.bytes[0]).toBe(0);
    expect(r.bytes[helloEnd]).toBe(4);
    const e = exceptionOf(r.bytes, helloEnd + 1);
    expect([e.code, r.closed]).toEqual([48, true]);
    expect(e.text).toMatch(/packet 9 out of turn/);
  });

  it("counts its statements against the engine's one bound with the HTTP port: busy while 8 wait there, and takes the next", async () => {
    const held = Array.from({ length: 8 }, () => sql('SELECT sleep(1)'));
    await sleep(300);
    const r = await converse('default', [query('SELECT 1 AS one')]);
    expect((await Promise.all(held)).map((a) => a.status)).toEqual(Array(8).fill(200));
    const helloEnd = r.bytes.indexOf(Buffer.from('trackhouse')) + 'trackhouse'.length + 1;
    const e = exceptionOf(r.bytes, helloEnd);
    expect([e.code, r.closed]).toEqual([202, false]);
    expect(e.text).toMatch(/8 statements are already running or waiting here/);
    // Once they are done, the same statement is answered: header, one block, EndOfStream.
    const again = await converse('default', [query('SELECT 1 AS one')]);
    const answer = again.bytes.subarray(again.bytes.indexOf(Buffer.from('trackhouse')) + 'trackhouse'.length + 1);
    const header = Buffer.concat([Buffer.from([1]), str(''), Buffer.from('0100' + '02ffffffff' + '00', 'hex'), Buffer.from([1, 0]), str('one'), str('UInt8'), Buffer.from([0])]);
    const block = Buffer.concat([Buffer.from([1]), str(''), Buffer.from('0100' + '02ffffffff' + '00', 'hex'), Buffer.from([1, 1]), str('one'), str('UInt8'), Buffer.from([0, 1])]);
    expect(answer.toString('hex')).toBe(Buffer.concat([header, block, Buffer.from([5])]).toString('hex'));
    // No rows: the header all the same (chDB writes no block), a trailing comment and semicolon notwithstanding.
    const none = await converse('default', [query('SELECT 1 AS one WHERE 0; -- nothing')]);
    expect(none.bytes.subarray(none.bytes.indexOf(Buffer.from('trackhouse')) + 'trackhouse'.length + 1).toString('hex')).toBe(Buffer.concat([header, Buffer.from([5])]).toString('hex'));
  });

  it('answers a Cancel sent before its statement reached the engine with EndOfStream alone, and goes on serving the connection', async () => {
    // Run, the statement would fail (no such table): an exception, not EndOfStream.
    const r = await converse('default', [query('SELECT * FROM no_such_table_cancelled'), Buffer.from([3]), Buffer.from([4])]);
    const helloEnd = r.bytes.indexOf(Buffer.from('trackhouse')) + 'trackhouse'.length + 1;
    expect([r.bytes.subarray(helloEnd).toString('hex'), r.closed]).toEqual(['0504', false]);
  });

  it('drops a statement whose connection closed while it waited for the engine: it never runs', async () => {
    const registry = createRegistry('query', false);
    const engine = await createSqlEngine(ch.biClient, { registry });
    const counted = await serveNativePort({ engine, host: '127.0.0.1', port: 0, portVariable: 'BI_NATIVE_PORT', readKeys: new Set([KEY]), log: createLogger('silent') });
    const http = await serveSqlPort({ engine, host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log: createLogger('silent') });
    try {
      const running = sql('SELECT sleep(1)', { url: `http://127.0.0.1:${http.port}/` });
      await sleep(200);
      // Run, it would fail (no such table); the connection closes while it waits behind the sleep.
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(counted.port, '127.0.0.1', () => {
          socket.write(Buffer.concat([helloPacket(KEY, 'default'), str(''), query('SELECT * FROM no_such_table_native')]));
          setTimeout(() => socket.destroy(), 200);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      expect((await running).status).toBe(200);
      await sleep(100);
      const text = await registry.metrics();
      for (const [outcome, n] of [['ok', 1], ['failed', 0], ['abandoned', 1]] as const) {
        expect(text).toContain(`trackhouse_sql_statements_total{outcome="${outcome}",component="query"} ${n}`);
      }
    } finally {
      counted.close();
      http.close();
    }
  });

  it('tells an HTTP client (a browser, curl) in HTTP that this port is not HTTP, and where HTTP is', async () => {
    const res = await fetch(`http://127.0.0.1:${native.port}/`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^This port \(BI_NATIVE_PORT\) speaks ClickHouse's native TCP protocol .* use the SQL port BI_PORT/);
  });
});

describe('the read-only SQL ports with TLS files', () => {
  if (!OPENSSL) {
    it.skip('SKIPPED: the openssl command is missing (apt-get install openssl): it makes the test certificate', () => {});
    return;
  }
  const certificate = (name: string) => selfSignedCertificate(dir.path, name);
  it('speaks HTTPS only, so the read key never crosses the network in clear', async () => {
    const { certFile, keyFile } = certificate('bi');
    const secure = await serveSqlPort({ engine: await createSqlEngine(ch.client), host: '127.0.0.1', port: 0, portVariable: 'BI_PORT', readKeys: new Set([KEY]), log: createLogger('silent'), tls: { certFile, keyFile } });
    try {
      expect(secure.secure).toBe(true);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: secure.port, method: 'POST', path: '/', ca: readFileSync(certFile), headers: { 'x-clickhouse-key': KEY } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('SELECT count() FROM events');
      });
      expect(answer).toEqual({ status: 200, body: '3\n' });
      await expect(fetch(`http://127.0.0.1:${secure.port}/ping`)).rejects.toThrow();
    } finally {
      secure.close();
    }
  });

  it('speaks TLS on the native port with them: a hello over TLS is answered, one in clear is not', async () => {
    const { certFile, keyFile } = certificate('native');
    const secure = await serveNativePort({ engine: await createSqlEngine(ch.client), host: '127.0.0.1', port: 0, portVariable: 'BI_NATIVE_PORT', readKeys: new Set([KEY]), log: createLogger('silent'), tls: { certFile, keyFile } });
    const hello = helloPacket(KEY);
    const firstBytes = (socket: net.Socket) =>
      new Promise<Buffer>((resolve) => {
        const got: Buffer[] = [];
        socket.on('data', (d: Buffer) => {
          got.push(d);
          if (Buffer.concat(got).includes(Buffer.from('trackhouse'))) socket.destroy();
        });
        socket.on('error', () => socket.destroy());
        socket.on('close', () => resolve(Buffer.concat(got)));
        setTimeout(() => socket.destroy(), 3000);
      });
    try {
      expect(secure.secure).toBe(true);
      const overTls = tls.connect({ host: '127.0.0.1', port: secure.port, ca: readFileSync(certFile), servername: '127.0.0.1' }, () => overTls.write(hello));
      const answered = await firstBytes(overTls);
      expect([answered[0], answered.includes(Buffer.from('ClickHouse')), answered.includes(Buffer.from('trackhouse'))]).toEqual([0, true, true]);
      const inClear = net.connect(secure.port, '127.0.0.1', () => inClear.write(hello));
      expect((await firstBytes(inClear)).includes(Buffer.from('trackhouse'))).toBe(false);
    } finally {
      secure.close();
    }
  });
});

const JDBC_PROBLEM = javaProblem(JDBC_PROBE);
/** A client program's fetch and compile, in a hook of its own (as ingest-jvm-go-sdks.test.ts). */
const BUILD_TIMEOUT_MS = 600_000;

describe('the read-only SQL port with ClickHouse\'s JDBC driver (DBeaver, Metabase, Tableau)', () => {
  if (JDBC_PROBLEM !== null) {
    it.skip(JDBC_PROBLEM, () => {});
    return;
  }
  let cp: string;
  // Built before the tests, with a build's time: a first run fetches the driver with mvn and
  // compiles, which on a busy 2-core machine can take longer than a test may.
  beforeAll(async () => {
    cp = await buildJava(JDBC_PROBE);
  }, BUILD_TIMEOUT_MS);
  it('lists the rollup tables, reads the rollup view with a bound date from its compressed answer, and is refused a DROP', async () => {
    const r = await runChild('java', ['-cp', cp, 'JdbcProbe', `jdbc:clickhouse:http://127.0.0.1:${port.port}/default`, KEY], { timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { product: string; tables: string[]; rows: [string, string, number][]; drop: string };
    expect(out.product).toBe('ClickHouse');
    expect(out.tables).toEqual(expect.arrayContaining(['events_daily_by_event', 'events_daily_by_event_v', 'events_daily_by_category_v', 'events_daily_by_group_v']));
    expect(out.rows).toEqual([
      [DAY, 'Order Completed', 1],
      [DAY, 'Signed Up', 2],
    ]);
    expect(out.drop).toMatch(/Code: 164\. DB::Exception: .*not Drop/);
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
  });
});

const CLICKHOUSE_GO_PROBLEM = goProblem(CLICKHOUSE_GO_PROBE);

describe('the read-only SQL ports with ClickHouse\'s Go client, over HTTP and the native protocol (Grafana\'s ClickHouse plugin)', () => {
  if (CLICKHOUSE_GO_PROBLEM !== null) {
    it.skip(CLICKHOUSE_GO_PROBLEM, () => {});
    return;
  }
  interface Answer {
    statement: string;
    columns?: { name: string; type: string }[];
    rows?: unknown[][];
    error?: string;
  }
  let bin: string;
  // Built before the tests, with a build's time (a first run fetches clickhouse-go from the
  // module proxy and compiles: past 120 s once on a busy CI machine, inside the first test).
  beforeAll(async () => {
    bin = await buildGo(CLICKHOUSE_GO_PROBE);
  }, BUILD_TIMEOUT_MS);
  const probe = async (protocol: 'http' | 'native', compression: string, statements: string[], key = KEY) => {
    return runChild(bin, [protocol, `127.0.0.1:${protocol === 'http' ? port.port : native.port}`, key, compression, ...statements], { timeoutMs: 120_000 });
  };
  const answers = async (protocol: 'http' | 'native', compression: string, statements: string[]): Promise<Answer[]> => {
    const r = await probe(protocol, compression, statements);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Answer);
  };

  it.each(['http', 'native'] as const)('over %s reads the rollups, every column of the events, the table list, an empty result\'s columns and a result of several blocks; other types and writes refused', async (protocol) => {
    const [rollups, events, tables, blocks, empty, dynamic, drop] = await answers(protocol, 'none', [
      'SELECT day, event, events, users FROM events_daily_by_event_v ORDER BY event',
      "SELECT * FROM events WHERE user_id = 'u-1' ORDER BY timestamp",
      "SELECT name FROM system.tables WHERE database = 'default' AND startsWith(name, 'events_daily_by_') AND endsWith(name, '_v') ORDER BY name",
      'SELECT count() AS rows, sum(n) AS total, max(s) AS longest FROM (SELECT number AS n, toString(number) AS s FROM numbers(150000))',
      'SELECT event, users FROM events_daily_by_event_v WHERE 0',
      'SELECT 1::Dynamic AS x',
      'DROP TABLE events',
    ]);
    expect(rollups!.columns).toEqual([
      { name: 'day', type: 'Date' },
      { name: 'event', type: 'String' },
      { name: 'events', type: 'UInt64' },
      { name: 'users', type: 'UInt64' },
    ]);
    expect(rollups!.rows).toEqual([
      [`${DAY}T00:00:00Z`, 'Order Completed', 1, 1],
      [`${DAY}T00:00:00Z`, 'Signed Up', 2, 2],
    ]);
    expect(events!.error).toBeUndefined();
    expect(events!.columns!.map((c) => c.type)).toEqual(expect.arrayContaining(['LowCardinality(String)', "DateTime64(3, 'UTC')", "Nullable(DateTime64(3, 'UTC'))", 'UInt32', 'UInt64']));
    const byName = (row: unknown[]) => Object.fromEntries(events!.columns!.map((c, i) => [c.name, row[i]]));
    expect(events!.rows!.map(byName)).toMatchObject([
      { event_id: 'e1', type: 'track', event: 'Signed Up', timestamp: `${DAY}T10:00:00Z`, sent_at: null, received_at: `${DAY}T10:00:00.1Z`, source: 'web', category: 'signup' },
      { event_id: 'e3', type: 'track', event: 'Order Completed', timestamp: `${DAY}T12:00:00Z`, sent_at: null, source: 'web', category: 'checkout' },
    ]);
    expect(tables!.rows).toEqual([['events_daily_by_category_v'], ['events_daily_by_event_v'], ['events_daily_by_group_v']]);
    expect(blocks!.rows).toEqual([[150000, 11249925000, '99999']]);
    // A server sends an empty result's header; over HTTP chDB's empty body has none, as clickhouse-go takes it.
    expect([empty!.columns, empty!.rows, empty!.error]).toEqual([
      protocol === 'native'
        ? [
            { name: 'event', type: 'String' },
            { name: 'users', type: 'UInt64' },
          ]
        : undefined,
      undefined,
      undefined,
    ]);
    expect(dynamic!.error).toMatch(/code: 48.*column x of type Dynamic/);
    expect(drop!.error).toMatch(/code: 164/);
    expect((await engine('SELECT count() FROM events')).trim()).toBe('3');
  });

  it('reads the same with its LZ4 and ZSTD block compression (compress=1 over HTTP) and with gzip asked for over HTTP', async () => {
    const statement = 'SELECT event, users FROM events_daily_by_event_v ORDER BY event';
    for (const [protocol, compression] of [['http', 'lz4'], ['http', 'zstd'], ['http', 'gzip'], ['native', 'lz4'], ['native', 'zstd']] as const) {
      const [answer] = await answers(protocol, compression, [statement]);
      expect(answer!.rows, `${protocol} ${compression}`).toEqual([
        ['Order Completed', 1],
        ['Signed Up', 2],
      ]);
    }
  });

  it('is refused at the native hello with a key that is not a read key', async () => {
    const r = await probe('native', 'none', ['SELECT 1'], 'not-a-key');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/code: 516, message: grafana: the password is not a read key/);
  });
});
