import { describe, expect, it } from 'vitest';
import { loadSchemaVersions } from '../schema/index.js';
import { registryMethods, SchemaRegistryAnswers } from './answers.js';
import { carriesReadKey, registrySegments } from './routes.js';

const versions = loadSchemaVersions('event');
const answers = new SchemaRegistryAnswers(versions, 'events');
const q = (text = '') => new URLSearchParams(text);
const json = (a: { status: number; body: string }) => [a.status, JSON.parse(a.body) as unknown];
const body = (schema: unknown) => JSON.stringify({ schema: typeof schema === 'string' ? schema : JSON.stringify(schema) });
const v = (n: number) => versions.find((x) => x.version === n)!;

describe('SchemaRegistryAnswers', () => {
  it('names the topic, record and topic-record subjects, each with every version', () => {
    expect(json(answers.get(['subjects'], q()))).toEqual([200, ['events-value', 'trackhouse.Event', 'events-trackhouse.Event']]);
    expect(json(answers.get(['subjects'], q('subjectPrefix=trackhouse')))).toEqual([200, ['trackhouse.Event']]);
    for (const s of answers.subjects) expect(json(answers.get(['subjects', s, 'versions'], q()))).toEqual([200, [1, 2]]);
    expect(json(answers.get(['subjects', 'events-value', 'versions', '-1'], q()))).toEqual([200, { subject: 'events-value', version: 2, id: 2, schema: v(2).text }]);
    expect(json(answers.get(['subjects', 'events-value', 'versions', '1'], q()))).toEqual([200, { subject: 'events-value', version: 1, id: 1, schema: v(1).text }]);
  });

  it('serves schema ids with the max id on request, all schemas, and the latest only', () => {
    expect(json(answers.get(['schemas', 'ids', '1'], q()))).toEqual([200, { schema: v(1).text }]);
    expect(json(answers.get(['schemas', 'ids', '1'], q('fetchMaxId=true')))).toEqual([200, { schema: v(1).text, maxId: 2 }]);
    expect(json(answers.get(['schemas', 'ids', '2', 'versions'], q()))[1]).toEqual(answers.subjects.map((subject) => ({ subject, version: 2 })));
    expect((json(answers.get(['schemas'], q()))[1] as unknown[]).length).toBe(6);
    expect(json(answers.get(['schemas'], q('latestOnly=true&subjectPrefix=events-value')))).toEqual([200, [{ subject: 'events-value', version: 2, id: 2, schema: v(2).text }]]);
    for (const id of ['0', '3', '01x', '99999999999', '-1']) expect(json(answers.get(['schemas', 'ids', id], q()))[0]).toBe(404);
  });

  it('finds a schema by its canonical form (docs and whitespace aside), the newest version that matches', () => {
    const noDocs = JSON.parse(v(1).text, (k, value: unknown) => (k === 'doc' ? undefined : value)) as unknown;
    expect(json(answers.post(['subjects', 'trackhouse.Event'], body(noDocs)))).toEqual([200, { subject: 'trackhouse.Event', version: 1, id: 1, schema: v(1).text }]);
    expect(json(answers.post(['subjects', 'events-value', 'versions'], body(JSON.stringify(JSON.parse(v(2).text), null, 2))))).toEqual([200, { id: 2 }]);
    const other = { type: 'record', name: 'Event', namespace: 'trackhouse', fields: [{ name: 'x', type: 'int' }] };
    expect(json(answers.post(['subjects', 'events-value'], body(other)))).toEqual([404, { error_code: 40403, message: 'Schema not found' }]);
    expect(json(answers.post(['subjects', 'events-value', 'versions'], body(other)))[1]).toMatchObject({ error_code: 42205 });
    expect(json(answers.post(['subjects', 'unknown'], body(v(2).text)))[1]).toMatchObject({ error_code: 40401 });
  });

  it('checks backward compatibility against a version or all of them', () => {
    const added = JSON.parse(v(2).text) as { fields: unknown[] };
    added.fields.push({ name: 'extra', type: 'string', default: '' });
    const withoutDefault = JSON.parse(v(2).text) as { fields: unknown[] };
    withoutDefault.fields.push({ name: 'extra', type: 'string' });
    expect(json(answers.post(['compatibility', 'subjects', 'events-value', 'versions', 'latest'], body(added)))).toEqual([200, { is_compatible: true }]);
    expect(json(answers.post(['compatibility', 'subjects', 'events-value', 'versions'], body(added)))).toEqual([200, { is_compatible: true }]);
    expect(json(answers.post(['compatibility', 'subjects', 'events-value', 'versions', '1'], body(withoutDefault)))).toEqual([200, { is_compatible: false }]);
  });

  it('refuses bodies that are not a schema, and every change, in the registry\'s own codes', () => {
    expect(json(answers.post(['subjects', 'events-value'], 'not json'))).toEqual([400, { error_code: 400, message: expect.stringContaining('not JSON') as unknown }]);
    expect(json(answers.post(['subjects', 'events-value'], '{"schema": 1}'))[1]).toMatchObject({ error_code: 42201 });
    expect(json(answers.post(['subjects', 'events-value'], body('{"type": "nope"}')))[1]).toMatchObject({ error_code: 42201 });
    expect(json(answers.post(['subjects', 'events-value'], JSON.stringify({ schema: v(2).text, schemaType: 'PROTOBUF' })))[1]).toMatchObject({ error_code: 42201 });
    expect(json(answers.change())).toEqual([422, { error_code: 42205, message: expect.stringContaining('read-only') as unknown }]);
    expect(json(answers.post(['subjects', 'unknown-subject', 'versions'], body(v(2).text)))[1]).toMatchObject({ error_code: 42205 });
  });

  it('takes on each path the methods Confluent\'s registry takes there, and no path it does not have', () => {
    const reads = 'GET, HEAD, OPTIONS';
    const cases: [string, string | null][] = [
      ['', reads],
      ['subjects', reads],
      ['subjects/s', 'POST, DELETE, OPTIONS'],
      ['subjects/s/versions', 'GET, HEAD, POST, OPTIONS'],
      ['subjects/s/versions/latest', 'GET, HEAD, DELETE, OPTIONS'],
      ['subjects/s/versions/1/schema', reads],
      ['subjects/s/versions/1/referencedby', reads],
      ['subjects/s/versions/1/other', null],
      ['subjects/s/other', null],
      ['schemas', reads],
      ['schemas/types', reads],
      ['schemas/ids/1', reads],
      ['schemas/ids/1/schema', reads],
      ['schemas/ids/1/subjects', reads],
      ['schemas/ids/1/versions', reads],
      ['schemas/ids', null],
      ['schemas/ids/1/other', null],
      ['config', 'GET, HEAD, PUT, OPTIONS'],
      ['config/s', 'GET, HEAD, PUT, DELETE, OPTIONS'],
      ['mode/s', 'GET, HEAD, PUT, DELETE, OPTIONS'],
      ['mode/s/x', null],
      ['compatibility/subjects/s/versions', 'POST, OPTIONS'],
      ['compatibility/subjects/s/versions/latest', 'POST, OPTIONS'],
      ['compatibility/subjects/s', null],
      ['elsewhere', null],
    ];
    expect(cases.map(([path]) => [path, registryMethods(path === '' ? [] : path.split('/'))])).toEqual(cases);
  });

  it('answers the global config for an unknown subject only when asked to default to it', () => {
    expect(json(answers.get(['config', 'unknown'], q()))[1]).toMatchObject({ error_code: 40408 });
    expect(json(answers.get(['config', 'unknown'], q('defaultToGlobal=true')))).toEqual([200, { compatibilityLevel: 'BACKWARD' }]);
    expect(json(answers.get([], q()))).toEqual([200, {}]);
  });
});

describe('the registry routes\' reading of a request', () => {
  const keys = new Set(['rk']);
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

  it('takes the read key as Basic user name or password, or as a Bearer token', () => {
    expect([basic('rk:'), basic('rk:x'), basic('rk'), basic('me:rk'), 'Bearer rk', 'bearer  rk '].map((h) => carriesReadKey(h, keys))).toEqual([true, true, true, true, true, true]);
    expect([basic('r:k'), basic(':'), basic('x:y'), 'Bearer other', 'Basic !!', '', 'rk'].map((h) => carriesReadKey(h, keys))).toEqual([false, false, false, false, false, false, false]);
  });

  it('splits and percent-decodes the path after /registry, refusing one that does not decode', () => {
    expect(registrySegments('/registry')).toEqual([]);
    expect(registrySegments('/registry/subjects/a%2Fb-value/versions/')).toEqual(['subjects', 'a/b-value', 'versions']);
    expect(registrySegments('/registry/subjects/%E0%A4%A')).toBeNull();
  });
});
