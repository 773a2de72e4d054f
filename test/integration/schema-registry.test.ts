// The query port's schema registry, read by a real registry client (@kafkajs/confluent-schema-registry,
// as kafkajs users decode Confluent-framed topics): events the ingest wrote to the real broker
// decode through it, records of the first schema too, a producer that registers trackhouse's own
// schema gets its id and writes records the sink's codec reads, and anything else is refused as
// a read-only registry refuses it.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventCodec, loadSchemaVersions, SCHEMAS_DIR } from '../../src/schema/index.js';
import { postJson, trackEvent, type TestIngest, type TopicReader } from './ingest-support.js';
import { READ_KEY, type Harness } from './query-helpers.js';
import { startRegistryStack, type RegistryStack } from './registry-support.js';

let stack: RegistryStack;
let ingest: TestIngest;
let reader: TopicReader;
let h: Harness;
let topic: string;

beforeAll(async () => {
  stack = await startRegistryStack();
  ({ ingest, reader, query: h, topic } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

const client = (auth: { username: string; password: string } | null = { username: READ_KEY, password: '' }) =>
  new SchemaRegistry({ host: `${h.base}/registry`, ...(auth ? { auth } : {}) }, undefined);

const schemaText = (version: number) => readFileSync(`${SCHEMAS_DIR}/event.v${version}.avsc`, 'utf8');

describe('the schema registry on the query port', () => {
  it('decodes the events the ingest wrote, with a registry client given only its URL and the read key', async () => {
    const sent = [
      trackEvent('sr-1', 'user-é', { properties: { total: 12.5, items: ['a', 'b'], note: 'ünïcode ✓' } }),
      trackEvent('sr-2', 'user-2', { event: 'Signed Up' }),
      { type: 'identify', messageId: 'sr-3', userId: 'user-3', traits: { plan: 'pro' } },
    ];
    expect((await postJson(`${ingest.url}/v1/batch`, { batch: sent })).status).toBe(200);
    const codec = reader.codec;
    const landed = await reader.waitFor(topic, 3, (r) => codec.decode(r.value).event_id.startsWith('sr-'));
    const registry = client();
    const decoded = (await Promise.all(landed.map((r) => registry.decode(r.value)))) as Record<string, unknown>[];
    const byId = new Map(decoded.map((d) => [d['event_id'], d]));
    expect([...byId.keys()].sort()).toEqual(['sr-1', 'sr-2', 'sr-3']);
    expect(byId.get('sr-1')).toMatchObject({ type: 'track', event: 'Order Completed', user_id: 'user-é', source: 'test' });
    expect(JSON.parse(byId.get('sr-1')!['properties'] as string)).toEqual({ total: 12.5, items: ['a', 'b'], note: 'ünïcode ✓' });
    expect(byId.get('sr-2')).toMatchObject({ event: 'Signed Up', user_id: 'user-2' });
    expect(byId.get('sr-3')).toMatchObject({ type: 'identify', user_id: 'user-3' });
    expect(JSON.parse(byId.get('sr-3')!['traits'] as string)).toEqual({ plan: 'pro' });
    // The same values the project's own codec reads from those bytes.
    for (const ours of landed.map((r) => codec.decode(r.value))) expect(byId.get(ours.event_id)).toEqual({ ...ours });
  });

  it('serves every released schema under its id, so records of the first schema decode too', async () => {
    const versions = loadSchemaVersions('event');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    const v1 = versions[0]!;
    const record = { ...v1.type.random(), event_id: 'v1-record' } as Record<string, unknown>;
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), v1.type.toBuffer(record)]);
    expect(await client().decode(framed)).toEqual({ ...v1.type.fromBuffer(v1.type.toBuffer(record)) });
    const registry = client();
    expect(await registry.getLatestSchemaId(`${topic}-value`)).toBe(2);
    expect(await registry.getRegistryId(`${topic}-value`, 1)).toBe(1);
    expect(await registry.getRegistryId('trackhouse.Event', 2)).toBe(2);
  });

  it('gives a producer that registers trackhouse\'s schema its id, and its records decode with the sink\'s codec', async () => {
    const registry = client();
    const { id } = await registry.register({ type: 'AVRO' as never, schema: schemaText(2) }, { subject: `${topic}-value` });
    expect(id).toBe(2);
    expect(await registry.getRegistryIdBySchema(`${topic}-value`, { type: 'AVRO' as never, schema: schemaText(1) })).toBe(1);
    const v2 = loadSchemaVersions('event')[1]!.type;
    const record = { ...(v2.random() as object), event_id: 'from-a-producer' };
    const bytes = await registry.encode(id, record);
    expect(bytes.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 2]));
    expect(new EventCodec().decode(bytes)).toEqual({ ...v2.fromBuffer(v2.toBuffer(record)) });
  });

  it('refuses, as a read-only registry does, a schema it does not hold, and a request without the read key', async () => {
    const other = JSON.stringify({ type: 'record', name: 'Other', namespace: 'x', fields: [{ name: 'a', type: 'string' }] });
    await expect(client().register({ type: 'AVRO' as never, schema: other }, { subject: `${topic}-value` })).rejects.toThrow(/read-only/);
    await expect(client(null).getLatestSchemaId(`${topic}-value`)).rejects.toThrow(/read key is required/);
    await expect(client({ username: 'not-a-key', password: 'nor-this' }).getLatestSchemaId(`${topic}-value`)).rejects.toThrow(/read key is required/);
    // The read key as the password (as Confluent Cloud's key:secret pairs are sent) is taken too.
    expect(await client({ username: 'anyone', password: READ_KEY }).getLatestSchemaId(`${topic}-value`)).toBe(2);
  });

  it('answers the REST paths and errors of Confluent\'s registry, in its media type, with HEAD like GET', async () => {
    const auth = { authorization: `Bearer ${READ_KEY}` };
    const get = async (path: string, method = 'GET') => {
      const res = await fetch(`${h.base}/registry${path}`, { method, headers: auth });
      return { status: res.status, type: res.headers.get('content-type'), length: res.headers.get('content-length'), text: await res.text() };
    };
    const subjects = await get('/subjects');
    expect(subjects.status).toBe(200);
    expect(subjects.type).toBe('application/vnd.schemaregistry.v1+json');
    expect(JSON.parse(subjects.text)).toEqual([`${topic}-value`, 'trackhouse.Event', `${topic}-trackhouse.Event`]);
    expect(JSON.parse((await get(`/subjects/${encodeURIComponent(`${topic}-value`)}/versions`)).text)).toEqual([1, 2]);
    const latest = JSON.parse((await get(`/subjects/${topic}-value/versions/latest`)).text) as Record<string, unknown>;
    expect(latest).toEqual({ subject: `${topic}-value`, version: 2, id: 2, schema: JSON.stringify(JSON.parse(schemaText(2))) });
    expect(JSON.parse((await get('/schemas/ids/1/schema')).text)).toEqual(JSON.parse(schemaText(1)));
    expect(JSON.parse((await get('/schemas/types')).text)).toEqual(['AVRO']);
    expect(JSON.parse((await get(`/config/${topic}-value`)).text)).toEqual({ compatibilityLevel: 'BACKWARD' });
    expect(JSON.parse((await get('/mode')).text)).toEqual({ mode: 'READONLY' });
    const errors: [string, number, number][] = [
      ['/schemas/ids/3', 404, 40403],
      ['/subjects/nope/versions', 404, 40401],
      [`/subjects/${topic}-value/versions/7`, 404, 40402],
      [`/subjects/${topic}-value/versions/x`, 422, 42202],
      ['/config/nope', 404, 40408],
      ['/nothing-here', 404, 404],
    ];
    for (const [path, status, code] of errors) {
      const r = await get(path);
      expect([path, r.status, (JSON.parse(r.text) as { error_code: number }).error_code]).toEqual([path, status, code]);
    }
    const head = await get('/schemas/ids/2', 'HEAD');
    expect(head).toMatchObject({ status: 200, text: '', length: String(Buffer.byteLength((await get('/schemas/ids/2')).text)) });
    const del = await fetch(`${h.base}/registry/subjects/${topic}-value`, { method: 'DELETE', headers: auth });
    expect([del.status, ((await del.json()) as { error_code: number }).error_code]).toEqual([422, 42205]);
    const gzipped = await fetch(`${h.base}/registry/subjects/${topic}-value`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ schema: schemaText(2) })),
    });
    expect([gzipped.status, ((await gzipped.json()) as { error_code: number }).error_code]).toEqual([415, 415]);
    // OPTIONS (a CORS preflight too, test/integration/query-cors.test.ts) and 405s name each path's
    // methods, as Confluent's registry takes them.
    for (const [path, allow, other] of [
      ['subjects', 'GET, HEAD, OPTIONS', 'PATCH'],
      [`subjects/${topic}-value`, 'POST, DELETE, OPTIONS', 'GET'],
      ['schemas/ids/2', 'GET, HEAD, OPTIONS', 'PUT'],
    ]) {
      const options = await fetch(`${h.base}/registry/${path}`, { method: 'OPTIONS' });
      expect([options.status, options.headers.get('allow')], `OPTIONS ${path}`).toEqual([204, allow]);
      const refused = await fetch(`${h.base}/registry/${path}`, { method: other, headers: auth, ...(other === 'GET' ? {} : { body: '' }) });
      expect([refused.status, refused.headers.get('allow'), ((await refused.json()) as { error_code: number }).error_code], `${other} ${path}`).toEqual([405, allow, 405]);
    }
    const unknown = await fetch(`${h.base}/registry/schemas/ids/2/other`, { method: 'OPTIONS' });
    expect(unknown.status).toBe(404);
  });

  // Last: the server stays draining until afterAll stops it.
  it('answers 503 with Retry-After once the server drains, as the rest of the port does', async () => {
    h.server.drain();
    const res = await fetch(`${h.base}/registry/schemas/ids/2`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    expect([res.status, res.headers.get('retry-after'), ((await res.json()) as { error_code: number }).error_code]).toEqual([503, '1', 50003]);
  });
});
