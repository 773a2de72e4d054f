// Random `user.events` operations for the GraphQL fast page's differential tests: any subset of the
// Event fields in any order, aliases, __typename at every level, repeated keys, named and inline
// fragments, arguments as variables or literals. slowOf() gives the same operation with a directive
// that changes nothing (`@include(if: true)`), which the fast page never takes: executed by
// graphql-jit, its answer must be byte for byte the fast page's.
import { rng, type Rng } from './rng.js';

const EVENT_FIELDS = [
  'eventId',
  'type',
  'event',
  'userId',
  'anonymousId',
  'timestamp',
  'receivedAt',
  'source',
  'category',
  'groupId',
  'properties',
  'traits',
  'context',
  'name',
  'previousId',
];

export { rng, type Rng };

export interface Operation {
  query: string;
  variables: Record<string, unknown>;
}

/** The arguments of a page: `id`, then from, to, type, event, first, after as given. */
export interface PageArgs {
  id: string;
  from?: string;
  to?: string;
  type?: string;
  event?: string;
  first?: number;
  after?: string | null;
}

function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** A random operation for a page with these arguments. */
export function randomOperation(r: Rng, args: PageArgs): Operation {
  const fragments: string[] = [];
  const alias = (name: string) => (r() < 0.2 ? `${name}X${Math.floor(r() * 3)}: ${name}` : name);
  const typename = () => (r() < 0.15 ? ' __typename' : '');
  // Fields in REST's order now and then: runs of fields copied with their keys from the row.
  const picked = EVENT_FIELDS.filter(() => r() < 0.5);
  const nodeFields = r() < 0.3 ? picked : shuffle(r, picked);
  if (nodeFields.length === 0) nodeFields.push('eventId');
  // A field twice (the same key: answered once, at its first place).
  if (r() < 0.2) nodeFields.push(nodeFields[0]!);
  // An alias that is REST's key (`event_id: eventId`): copied with the row's key, in runs too.
  const restKey = (f: string) => (r() < 0.2 ? `${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}: ${f}` : alias(f));
  let node = nodeFields.map((f) => restKey(f)).join(' ') + typename();
  if (r() < 0.2) {
    fragments.push(`fragment NodeBits on Event { ${shuffle(r, EVENT_FIELDS.slice()).slice(0, 3).join(' ')} }`);
    node = r() < 0.5 ? `...NodeBits ${node}` : `${node} ...NodeBits`;
  }
  if (r() < 0.15) node += ` ... on Event { ${EVENT_FIELDS[Math.floor(r() * EVENT_FIELDS.length)]} }`;
  const edgeParts = [`node { ${node} }`];
  if (r() < 0.7) edgeParts.push(alias('cursor'));
  if (r() < 0.15) edgeParts.push('__typename');
  const edges = `${alias('edges')} { ${shuffle(r, edgeParts).join(' ')} }`;
  const pageInfo = shuffle(r, ['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename'].filter(() => r() < 0.6));
  const connection = [edges];
  if (pageInfo.length > 0) connection.push(`pageInfo { ${pageInfo.map(alias).join(' ')} }`);
  if (r() < 0.1) connection.push('__typename');
  const vars: Record<string, unknown> = {};
  const defs: string[] = [];
  const argText: string[] = [];
  const types: Record<string, string> = { from: 'String', to: 'String', type: 'EventType', event: 'String', first: 'Int', after: 'String' };
  for (const k of ['from', 'to', 'type', 'event', 'first', 'after'] as const) {
    const v = args[k];
    if (v === undefined) continue;
    if (r() < 0.6 || v === null) {
      defs.push(`$${k}: ${types[k]}`);
      vars[k] = v;
      argText.push(`${k}: $${k}`);
    } else argText.push(`${k}: ${k === 'type' ? String(v) : JSON.stringify(v)}`);
  }
  let userArg: string;
  if (r() < 0.7) {
    defs.push('$id: String!');
    vars.id = args.id;
    userArg = 'id: $id';
  } else userArg = `id: ${JSON.stringify(args.id)}`;
  let conn = shuffle(r, connection).join(' ');
  if (r() < 0.15) {
    fragments.push(`fragment Conn on EventConnection { ${conn} }`);
    conn = '...Conn';
  }
  const userFields = shuffle(r, [`${alias('events')}${argText.length > 0 ? `(${argText.join(', ')})` : ''} { ${conn} }`, ...(r() < 0.3 ? ['id'] : []), ...(r() < 0.1 ? ['__typename'] : [])]);
  const root = `${r() < 0.2 ? 'u: ' : ''}user(${userArg}) { ${userFields.join(' ')} }${typename()}`;
  const head = defs.length > 0 ? `query Page(${defs.join(', ')})` : r() < 0.5 ? 'query' : '';
  return { query: `${head} { ${root} } ${fragments.join(' ')}`.trim(), variables: vars };
}

/** The same operation with `@include(if: true)` on its user field: answered alike, never by the fast page. */
export function slowOf(op: Operation): Operation {
  return { ...op, query: op.query.replace(/user\(([^)]*)\)/, 'user($1) @include(if: true)') };
}
