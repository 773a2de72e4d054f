import { readFileSync, writeFileSync } from 'node:fs';
import { buildSchema, getIntrospectionQuery, parse, printSchema, specifiedRules, validate } from 'graphql';
import { getComplexity } from 'graphql-query-complexity';
import { describe, expect, it } from 'vitest';
import { statementFailed } from '../common/errors.js';
import { silentLogger } from '../common/log.js';
import { costEstimator, depthLimit, MAX_SPREAD_FIELDS, validationRules } from './limits.js';
import { graphqlError } from './schema.js';
import { SDL } from './sdl.js';

const DOC = new URL('../../docs/schema.graphql', import.meta.url);

describe('the GraphQL schema', () => {
  it('docs/schema.graphql is valid SDL and prints the same as the SDL the server builds from', () => {
    const printed = `${printSchema(buildSchema(SDL))}\n`;
    // UPDATE_SDL=1 npx vitest run --project unit src/graphql/schema.test.ts rewrites the copy.
    if (process.env.UPDATE_SDL === '1') writeFileSync(DOC, printed);
    const doc = readFileSync(DOC, 'utf8');
    const fromDoc = buildSchema(doc);
    expect(`${printSchema(fromDoc)}\n`).toBe(printed);
    const user = fromDoc.getQueryType()!.getFields().user!;
    expect(user.type.toString()).toBe('User!');
    expect(Object.keys((fromDoc.getType('User') as never as { getFields(): object }).getFields())).toEqual(['id', 'events']);
  });
});

const schema = buildSchema(SDL);
const errorsOf = (query: string, max: number) => validate(schema, parse(query), [...specifiedRules, depthLimit(max)]).map((e) => e.message);

describe('depth limit', () => {
  const page = '{ user(id: "u") { events { edges { node { eventId } } } } }';
  it('passes a page at its depth and refuses it one below, naming the setting', () => {
    expect(errorsOf(page, 5)).toEqual([]);
    expect(errorsOf(page, 4)).toEqual(['the operation is nested 5 fields deep; the limit is 4 (GRAPHQL_MAX_DEPTH)']);
  });
  it('follows fragments, inline and named', () => {
    const q = 'query P { user(id: "u") { ...E } } fragment E on User { events { ... on EventConnection { edges { node { eventId } } } } }';
    expect(errorsOf(q, 4)).toEqual(['operation P is nested 5 fields deep; the limit is 4 (GRAPHQL_MAX_DEPTH)']);
  });
  it('refuses a document whose fragments spread into more fields than the limit (each fragment spreading the last twice), naming it', () => {
    let fragments = 'fragment F0 on Query { __typename }\n';
    for (let i = 1; i <= 20; i++) fragments += `fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }\n`;
    expect(errorsOf(`query Bomb { ...F20 }\n${fragments}`, 15)).toEqual([
      `operation Bomb spreads into 1048576 fields with its fragments; the limit is ${MAX_SPREAD_FIELDS}`,
    ]);
    // One spread less each is 2^20 - 1 fewer: a document of the same text size, well within it.
    expect(errorsOf('query Fine { ...F1 }\nfragment F0 on Query { __typename }\nfragment F1 on Query { ...F0 ...F0 }', 15)).toEqual([]);
  });
  it('lets the standard introspection query through at the default (15)', () => {
    expect(errorsOf(getIntrospectionQuery(), 15)).toEqual([]);
    expect(errorsOf(getIntrospectionQuery(), 14)).toHaveLength(1);
  });
});

describe('fields sharing a response key', () => {
  const ruleErrors = (query: string) => validate(schema, parse(query), validationRules(15)).map((e) => e.message);
  it('refuses more than 100 in one selection before graphql-js compares each pair of them', () => {
    const many = (n: number) => `{ ${Array.from({ length: n }, () => 'user(id: "a") { id }').join(' ')} }`;
    expect(ruleErrors(many(300))).toEqual(['300 fields answer as "user" in one selection; the limit is 100']);
    expect(ruleErrors(`{ a: __typename ${Array.from({ length: 150 }, () => '... on Query { a: __typename }').join(' ')} }`)).toEqual([
      '151 fields answer as "a" in one selection; the limit is 100',
    ]);
    expect(ruleErrors(many(100))).toEqual([]);
  });
});

describe('cost', () => {
  const cost = (query: string, variables?: Record<string, unknown>) =>
    getComplexity({ schema, query: parse(query), estimators: [costEstimator(100, 1000)], ...(variables ? { variables } : {}) });
  it('counts a connection`s selections first times, a storage read 10, scalars nothing', () => {
    // user 1 + events (1 + 10) + 100 x (edges 1 + node 1 + pageInfo 1)
    expect(cost('{ user(id: "u") { events { edges { cursor node { eventId properties } } pageInfo { hasNextPage } } } }')).toBe(1 + 11 + 300);
    expect(cost('query($n: Int) { user(id: "u") { events(first: $n) { edges { node { eventId } } } } }', { n: 7 })).toBe(1 + 11 + 14);
    expect(cost('{ user(id: "u") { events(first: 5000) { edges { node { eventId } } } } }')).toBe(1 + 11 + 2000);
  });
  it('adds up aliases, so many users in one request cost what many requests would', () => {
    const one = '{ a: user(id: "a") { events(first: 10) { edges { node { eventId } } } } }';
    const two = '{ a: user(id: "a") { events(first: 10) { edges { node { eventId } } } } b: user(id: "b") { events(first: 10) { edges { node { eventId } } } } }';
    expect(cost(two)).toBe(2 * cost(one));
  });
});

describe('graphqlError', () => {
  it('says a ClickHouse without trackhouse\'s tables has not been migrated, as the REST 503 does', () => {
    const unknownTable = Object.assign(new Error("Unknown table expression identifier 'events_daily_by_event'"), { code: '60', type: 'UNKNOWN_TABLE' });
    const err = graphqlError(statementFailed(unknownTable, 'the rollups query', new AbortController().signal, 10_000), silentLogger());
    expect([err.message, err.extensions]).toEqual([
      "ClickHouse does not hold trackhouse's tables yet: its migrations have not run (trackhouse migrate); retry once they have",
      { code: 'clickhouse_unavailable', retriable: true },
    ]);
  });
});
