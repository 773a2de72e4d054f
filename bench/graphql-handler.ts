// The GraphQL POST handler's own CPU per request, in one process, for A/B of builds: the route of
// each built project root (dist/) registered on a fake uWS app and called with a fake request and
// response, over a fake reader whose every page is the same 50 events (shaped like the bench's).
// No network, no view read, no reply write: only what src/graphql adds to a page. Rounds
// alternate between the roots; it prints the median and minimum CPU µs per request of each root
// and page (the minimum is the steadiest figure on a shared machine).
//   node --import tsx bench/graphql-handler.ts [root ...]   (default: this project; K=rounds)
// Every root must give the same bytes for every request (checked first). With two roots or more it
// also prints in how many rounds each later root beat the first.
import path from 'node:path';
import { createCors, READ_API_EXPOSED_HEADERS } from '../src/common/cors.js';
import type { RouteGuard } from '../src/query/server.js';
import { graphqlPostCall } from './lib/fakepage.js';
import { graphqlRequest, NODES_QUERY, PAGE_QUERY } from './graphql.js';
import { paths } from './query.js';

const roots = process.argv.length > 2 ? process.argv.slice(2).map((r) => path.resolve(r)) : [path.resolve(import.meta.dirname, '..')];

const setups: { root: string; post: (body: ArrayBuffer) => unknown; replies: Buffer[] }[] = [];
for (const root of roots) {
  const { graphqlRoutes } = (await import(path.join(root, 'dist/graphql/routes.js'))) as typeof import('../src/graphql/routes.js');
  const guard: RouteGuard = {
    admit: () => 'Bearer k',
    fail: () => {
      throw new Error('fail');
    },
    cors: createCors('*', READ_API_EXPOSED_HEADERS),
    draining: () => false,
    begin: () => () => {},
    done: () => {},
  };
  setups.push({ root, post: graphqlPostCall(graphqlRoutes, guard, 'Bearer k'), replies: [] });
}
function call(s: (typeof setups)[number], body: ArrayBuffer, keep: boolean) {
  const reply = s.post(body);
  if (reply === null) throw new Error('no sync reply');
  if (keep) s.replies.push(Buffer.from(reply as Buffer));
}
// USERS=n: each request names one of n users in turn (the fake reader gives every one the same page), so
// per-scope work (the cursors' fingerprint) is done as often as with the bench's zipf users; default 1.
const USERS = Math.max(1, Number(process.env.USERS ?? 1));
// PATHS=zipf|hot: the graphql bench's own requests instead (its users and request shapes: filters,
// limits of 20 and 50; 50,000 users as with 1,000,000 events), still answered by the fake page.
const PATHS = process.env.PATHS === 'zipf' || process.env.PATHS === 'hot' ? paths(process.env.PATHS, 50_000, 20_000, 11) : null;
const arrayOf = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
const bodiesOf = (q: string) =>
  PATHS !== null
    ? PATHS.map((p) => arrayOf(Buffer.from(graphqlRequest(p, q).body)))
    : Array.from({ length: USERS }, (_, u) => arrayOf(Buffer.from(JSON.stringify({ query: q, variables: { id: USERS === 1 ? 'user-1234' : `user-${u}`, first: 50 } }))));
const COUNT = PATHS?.length ?? USERS;
const bodies = [bodiesOf(PAGE_QUERY), bodiesOf(NODES_QUERY)];
for (const s of setups) for (const b of bodies) for (let i = 0; i < Math.min(COUNT, 200); i++) call(s, b[i]!, true);
for (let i = 0; i < setups[0]!.replies.length; i++) if (!setups.every((s) => s.replies[i]!.equals(setups[0]!.replies[i]!))) throw new Error('replies differ');
const res: Record<string, number[]> = {};
for (let k = 0; k < Number(process.env.K ?? 8); k++) for (const s of setups) for (const [bi, b] of bodies.entries()) {
  const n = 2000;
  for (let i = 0; i < 200; i++) call(s, b[(k * n + i) % COUNT]!, false);
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) call(s, b[(k * n + 200 + i) % COUNT]!, false);
  const d = process.cpuUsage(c);
  (res[`${s.root} ${bi ? 'nodes' : 'cursor'}`] ??= []).push((d.user + d.system) / n);
}
// Rounds where each later root beat the first on the same page (rounds alternate the roots: pairs).
for (const s of setups.slice(1)) for (const page of ['cursor', 'nodes']) {
  const a = res[`${setups[0]!.root} ${page}`]!;
  const b = res[`${s.root} ${page}`]!;
  console.log(`${s.root} ${page}: faster than ${setups[0]!.root} in ${b.filter((x, k) => x < a[k]!).length} of ${b.length} rounds`);
}
for (const [k, v] of Object.entries(res)) { const x = [...v].sort((a, b) => a - b); console.log(k.padEnd(40), 'median', x[x.length >> 1]!.toFixed(1), 'min', x[0]!.toFixed(1), 'µs'); }
