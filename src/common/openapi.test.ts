// docs/openapi.yaml against what the servers really answer and against what client generators make
// of it. Microservices generate typed clients from the document (openapi-generator's python and
// typescript-fetch were driven against an all-in-one): those clients are strict where hand-written
// code is lenient, so a reply the document does not describe, or a schema they read otherwise than
// a validator does, breaks them. golden/openapi-replies.json holds real replies of the ingest and
// query servers (every query route, errors included), recorded from an all-in-one; each must match
// the status, content type and schema the document gives its operation.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
interface Reply { name: string; method: string; path: string; status: number; contentType: string; body: Json }

const doc = parseYaml(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as Obj;
const replies = JSON.parse(readFileSync(new URL('./golden/openapi-replies.json', import.meta.url), 'utf8')) as Reply[];
const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (o: Json | undefined, ...keys: string[]): Json | undefined => keys.reduce<Json | undefined>((a, k) => (isObj(a) ? a[k] : undefined), o);

// OpenAPI 3.0's `nullable` as JSON Schema; `example` and `discriminator` are not validation keywords.
function toJsonSchema(s: Json): Json {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (!isObj(s)) return s;
  const o: Obj = {};
  for (const [k, v] of Object.entries(s)) if (k !== 'nullable' && k !== 'example' && k !== 'discriminator') o[k] = toJsonSchema(v);
  if (s.nullable === true) {
    if (typeof o.type === 'string') o.type = [o.type, 'null'];
    if (Array.isArray(o.enum) && !o.enum.includes(null)) o.enum = [...o.enum, null];
    if (o.type === undefined && o.enum === undefined) return { anyOf: [o, { type: 'null' }] };
  }
  return o;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: 'oas', components: toJsonSchema(doc.components ?? null) });
const deref = (r: Json | undefined): Json | undefined => {
  const ref = at(r, '$ref');
  return typeof ref === 'string' ? at(doc, ...ref.split('/').slice(1)) : r;
};
const compiled = new Map<string, ValidateFunction>();
function validator(schema: Json): ValidateFunction {
  const text = JSON.stringify(toJsonSchema(schema)).replaceAll('"#/components/', '"oas#/components/');
  let v = compiled.get(text);
  if (v === undefined) compiled.set(text, (v = ajv.compile(JSON.parse(text) as object)));
  return v;
}

describe('the OpenAPI document against real replies', () => {
  it('covers every query route and the Segment endpoints', () => {
    const routes = new Set(replies.map((r) => `${r.method} ${r.path}`));
    for (const p of ['/v1/users/{userId}/events', '/v1/rollups/daily', '/v1/volume', '/v1/alerts', '/v1/audit', '/v1/regulations/{id}', '/regulations/{regulateId}', '/registry/subjects', '/healthz', '/readyz'])
      expect(routes).toContain(`GET ${p}`);
    for (const p of ['/v1/track', '/v1/identify', '/v1/page', '/v1/screen', '/v1/group', '/v1/alias', '/v1/batch', '/v1/regulations', '/regulations', '/graphql'])
      expect(routes).toContain(`POST ${p}`);
  });

  for (const r of replies) {
    it(`${r.name}: ${r.method} ${r.path} ${r.status}`, () => {
      const op = at(doc, 'paths', r.path, r.method.toLowerCase());
      expect(op, 'operation').toBeDefined();
      const resp = deref(at(op, 'responses', String(r.status)));
      expect(resp, `status ${r.status} listed`).toBeDefined();
      const media = at(resp, 'content', r.contentType);
      expect(media, `content type ${r.contentType} listed`).toBeDefined();
      const v = validator(at(media, 'schema') ?? {});
      expect(v(r.body) ? [] : v.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
    });
  }
});

// What openapi-generator (7.25.0: python, typescript-fetch) read otherwise than the document meant.
describe('the OpenAPI document for client generators', () => {
  const paths = (doc.paths ?? {}) as Obj;
  const operations = Object.entries(paths).flatMap(([path, item]) =>
    Object.entries(isObj(item) ? item : {}).filter(([m]) => ['get', 'head', 'post', 'put', 'delete', 'options', 'patch'].includes(m)).map(([m, op]) => ({ path, method: m, op })),
  );

  it('names no server per operation (the python client would call it instead of its configured host)', () => {
    expect(operations.filter((o) => at(o.op, 'servers') !== undefined).map((o) => `${o.method} ${o.path}`)).toEqual([]);
  });

  it('gives an operationId to every operation whose path starts with a digit (a derived one is no identifier)', () => {
    expect(operations.filter((o) => /^\/\d/.test(o.path) && at(o.op, 'operationId') === undefined).map((o) => `${o.method} ${o.path}`)).toEqual([]);
  });

  it('types ids as string or int64 integer (a number is a float in the python client: 64-bit ids rounded)', () => {
    for (const name of ['Id', 'NonEmptyId', 'UserKeyId', 'NonEmptyUserKeyId']) {
      const branches = at(doc, 'components', 'schemas', name, 'oneOf');
      expect(Array.isArray(branches) ? branches.map((b) => at(b, 'type')).sort() : branches, name).toEqual(['integer', 'string']);
    }
  });

  // openapi-typescript reads a branch of `required` alone as `unknown`, which swallows the union:
  // TrackCall became `{event, properties}` and a typed client refused `userId`. The `not` below
  // refuses a call without ids by itself.
  it('gives CallFields no anyOf (openapi-typescript typed every call without its ids)', () => {
    expect(at(doc, 'components', 'schemas', 'CallFields', 'anyOf')).toBeUndefined();
  });

  it('gives every operation an operationId of its own (generators log and make one up from the path)', () => {
    const ids = operations.map((o) => at(o.op, 'operationId'));
    expect(operations.filter((o, i) => ids[i] === undefined).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  // openapi-typescript types `{type: object}` with neither `properties` nor `additionalProperties`
  // as Record<string, never>: a typed client could read no field of the reply.
  it('says additionalProperties: true on every object schema that lists no properties', () => {
    const bare: string[] = [];
    const walk = (v: Json | undefined, where: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
      if (!isObj(v)) return;
      if (v.type === 'object' && v.properties === undefined && v.additionalProperties === undefined && v.allOf === undefined && v.oneOf === undefined && v.anyOf === undefined) bare.push(where);
      for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
    };
    walk(doc, '');
    expect(bare).toEqual([]);
  });

  // schemathesis generated {"anonymousId":""}, schema-valid before, which the edge refuses (missing_id).
  it('refuses a call whose userId and anonymousId are both absent, empty or null, as the edge does', () => {
    const track = validator({ $ref: '#/components/schemas/TrackCall' });
    const verdicts = [
      { anonymousId: '', event: 'e' },
      { userId: null, anonymousId: '', event: 'e' },
      { event: 'e' },
      { userId: '', anonymousId: 'a-1', event: 'e' },
      { userId: 0, event: 'e' },
      { anonymousId: 'a-1', userId: null, event: 'e' },
    ].map((call) => track(call));
    expect(verdicts).toEqual([false, false, false, true, true, true]);
  });

  // A YAML flow mapping splits an unquoted description at its comma: the rest became a keyword.
  const keywords = new Set(['type', 'format', 'description', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'nullable', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'default', 'example', 'allOf', 'anyOf', 'oneOf', 'not', '$ref', 'title', 'readOnly', 'writeOnly', 'discriminator', 'deprecated']);
  it('uses only schema keywords in schemas', () => {
    const bad: string[] = [];
    const walk = (s: Json | undefined, where: string): void => {
      if (!isObj(s)) return;
      for (const [k, v] of Object.entries(s)) {
        if (!keywords.has(k)) bad.push(`${where}: ${k}`);
        if (k === 'properties' && isObj(v)) for (const [p, ps] of Object.entries(v)) walk(ps, `${where}.${p}`);
        else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) v.forEach((b, i) => walk(b, `${where}.${k}[${i}]`));
        else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && isObj(v))) walk(v, `${where}.${k}`);
      }
    };
    for (const [name, s] of Object.entries((at(doc, 'components', 'schemas') ?? {}) as Obj)) walk(s, name);
    expect(bad).toEqual([]);
  });
});
