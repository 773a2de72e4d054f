import { buildSchema, getArgumentValues, getVariableValues, Kind, parse, validate, type FieldNode, type GraphQLObjectType, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { rng } from '../../test/support/graphql-selections.js';
import { compileArgs, readArgs } from './fastargs.js';
import { SDL } from './sdl.js';

const schema = buildSchema(SDL);
const PAGE = 'user(id: $id) { events(first: $first, type: $type, event: $event, from: $from, to: $to, after: $after) { pageInfo { hasNextPage } } }';

/** Operations of the shapes clients send: every argument a variable, literals, defaults, arguments left out. */
const OPERATIONS = [
  `query($id: String!, $first: Int, $type: EventType, $event: String, $from: String, $to: String, $after: String) { ${PAGE} }`,
  `query($id: String!, $first: Int = 7, $type: EventType = track, $event: String = "Signed Up", $from: String, $to: String, $after: String = null) { ${PAGE} }`,
  'query($id: String!, $first: Int!) { user(id: $id) { events(first: $first) { pageInfo { hasNextPage } } } }',
  'query($id: String = "u-1") { user(id: $id) { events(first: 3, type: page, from: "2026-01-01") { pageInfo { hasNextPage } } } }',
  'query($n: Int, $t: EventType!) { user(id: "literal") { events(first: $n, type: $t, after: null) { pageInfo { hasNextPage } } } }',
  'query($x: String) { user(id: "u") { events(from: $x, to: $x) { pageInfo { hasNextPage } } } }',
];

function fieldsOf(op: OperationDefinitionNode) {
  const query = schema.getQueryType()!;
  const userNode = op.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'user')!;
  const eventsNode = userNode.selectionSet!.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'events')!;
  const user = query.getFields().user!;
  const events = (schema.getType('User') as GraphQLObjectType).getFields().events!;
  return [{ field: user, node: userNode }, { field: events, node: eventsNode }];
}

/** graphql-js's values: null where it reports an error. Absent arguments as undefined (the fast reader's form). */
function reference(op: OperationDefinitionNode, inputs: Record<string, unknown>): Record<string, unknown>[] | null {
  const vars = getVariableValues(schema, op.variableDefinitions ?? [], inputs);
  if (vars.errors !== undefined) return null;
  try {
    return fieldsOf(op).map(({ field, node }) => {
      const values = getArgumentValues(field, node, vars.coerced);
      return Object.fromEntries(field.args.map((a) => [a.name, values[a.name]]));
    });
  } catch {
    return null;
  }
}

const VALUES: unknown[] = [null, undefined, '', 'u-1', 'ünï 😀', 'track', 'page', 'identify', 'TRACK', 'nope', 0, 1, -1, 50, 2.5, 1e3, 2147483647, 2147483648, -2147483648, -2147483649, Number.NaN, Infinity, true, false, [], ['u'], {}, { a: 1 }, '12'];
const NAMES = ['id', 'first', 'type', 'event', 'from', 'to', 'after', 'n', 't', 'x', 'extra'];

describe('the fast page reads its arguments as graphql-js coerces them', () => {
  it.each(OPERATIONS.map((q, i) => [i, q]))('operation %i: the same values, and an error where graphql-js reports one', (_i, query) => {
    const document = parse(query);
    expect(validate(schema, document)).toEqual([]);
    const op = document.definitions[0] as OperationDefinitionNode;
    const plan = compileArgs(schema, op, fieldsOf(op));
    expect(plan).not.toBeNull();
    const r = rng(17);
    let refused = 0;
    let accepted = 0;
    for (let n = 0; n < 1500; n++) {
      const inputs: Record<string, unknown> = {};
      for (const name of NAMES) if (r() < 0.6) inputs[name] = VALUES[Math.floor(r() * VALUES.length)];
      const want = reference(op, inputs);
      const got = readArgs(plan!, inputs);
      expect(got, JSON.stringify(inputs)).toEqual(want);
      if (want === null) refused++;
      else accepted++;
    }
    // Both outcomes are exercised, so a reader that always refuses (or never does) fails.
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it('gives no fast reading for a variable of a type it does not coerce (a list)', () => {
    const s = buildSchema('type Query { user(id: String!, tags: [String]): String }');
    const op = parse('query($id: String!, $tags: [String]) { user(id: $id, tags: $tags) }').definitions[0] as OperationDefinitionNode;
    const node = op.selectionSet.selections[0] as FieldNode;
    expect(compileArgs(s, op, [{ field: s.getQueryType()!.getFields().user!, node }])).toBeNull();
  });
});
