// Where a GraphQL POST's CPU goes behind uWS, beyond its handler: one process serves, on one uWS
// app, the GraphQL routes (src/graphql/routes.ts) over bench/lib/fakepage.ts's reader (every page
// the same 50 events, no view read) and bare routes answering fixed bytes; wrk (its own process,
// 32 connections, closed loop) loads one route at a time, and the process's CPU per request is
// read around each run. Rounds alternate the runs (the shared machine's drift falls on all):
//   get      GET, REST's reply for the 50 rows (writeJson, as the REST route): uWS's own cost of a GET
//   post     POST with GraphQL's body, onAborted + onData, REST's reply: what a POST adds in uWS
//   cursor   POST /graphql, a cursor per edge (bench/graphql.ts's PAGE_QUERY)
//   nodes    POST /graphql, REST's content (NODES_QUERY)
// and, in the same process, each GraphQL page's handler alone (fake request and response, as
// bench/graphql-handler.ts): server-level overhead = cursor - get - handler.
//   node --import tsx bench/graphql-server.ts [root ...]   (S=seconds per run, 3; K=rounds, 3; ONLY=regex of runs)
// With roots (built project roots; default this one's source), the GraphQL routes of each root's
// dist/ are served on an app of their own and the GraphQL runs alternate between them (A/B).
import path from 'node:path';
import { Registry } from 'prom-client';
import { createCors, READ_API_EXPOSED_HEADERS } from '../src/common/cors.js';
import { silentLogger } from '../src/common/log.js';
import { writeJson } from '../src/common/http.js';
import { loadUws } from '../src/common/uws.js';
import * as ours from '../src/graphql/routes.js';
import { createGate } from '../src/query/gate.js';
import { createQueryMetrics } from '../src/query/metrics.js';
import type { RouteGuard } from '../src/query/index.js';
import { fakeReader, graphqlPostCall, restBody } from './lib/fakepage.js';
import { median } from './lib/median.js';
import { graphqlRequest, NODES_QUERY, PAGE_QUERY } from './graphql.js';
import { runWrkStream } from './lib/wrk.js';

const KEY = 'bench-read-key';
const AUTH = `Bearer ${KEY}`;
const registry = new Registry();
const metrics = createQueryMetrics(registry, { gate: createGate(4, 100) });
let inflight = 0;
const guard: RouteGuard = {
  admit: (req) => {
    if (req.getHeader('authorization') !== AUTH) throw new Error('unauthorized');
    return AUTH;
  },
  fail: (res) => void res.writeStatus('500 Internal Server Error').end(),
  draining: () => false,
  begin: () => {
    inflight++;
    let open = true;
    return () => {
      if (open) {
        open = false;
        inflight--;
      }
    };
  },
  done: (route, status, start) => metrics.done(route, status, start),
  // As the query server's by default (QUERY_CORS_ORIGINS=*).
  cors: createCors('*', READ_API_EXPOSED_HEADERS),
};
const config = { graphql: { maxDepth: 15, maxCost: 5000, introspection: 'auto' }, keys: { read: new Set([KEY]) } };
const REPLY_HEADERS = [['Cache-Control', 'no-store']] as const;

const roots = process.argv.slice(2).map((r) => path.resolve(r));
type Routes = typeof ours.graphqlRoutes;
const routeSets: { root: string; graphqlRoutes: Routes }[] =
  roots.length === 0 ? [{ root: 'src', graphqlRoutes: ours.graphqlRoutes }] : await Promise.all(roots.map(async (root) => ({ root, graphqlRoutes: ((await import(path.join(root, 'dist/graphql/routes.js'))) as typeof ours).graphqlRoutes })));
const uws = loadUws();
const listen = (a: ReturnType<typeof uws.App>) =>
  new Promise<number>((resolve, reject) => a.listen('127.0.0.1', 0, (s) => (s ? resolve(uws.us_socket_local_port(s)) : reject(new Error('listen failed')))));
const app = uws.App();
app.get('/rest', (res, req) => {
  const start = performance.now();
  guard.admit(req);
  writeJson(res, 200, restBody, REPLY_HEADERS);
  metrics.done('events', 200, start);
});
app.post('/post', (res, req) => {
  const start = performance.now();
  guard.admit(req);
  const end = guard.begin();
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
    end();
  });
  res.onData((_chunk, last) => {
    if (!last) return;
    if (!aborted) writeJson(res, 200, restBody, REPLY_HEADERS);
    metrics.done('events', 200, start);
    end();
  });
});
const port = await listen(app);
const graphqlPorts: number[] = [];
for (const set of routeSets) {
  const a = uws.App();
  // A registry each: every route set registers its own trackhouse_graphql_fast_pages_total.
  set.graphqlRoutes({ config: config as never, log: silentLogger(), stream: null, registry: new Registry() })(a, guard, fakeReader);
  graphqlPorts.push(await listen(a));
}

const restPath = '/v1/users/user-1234/events?limit=50';
interface Run { method: 'GET' | 'POST'; path: string; body?: string; post: boolean; port: number; set?: number }
const runs: Record<string, Run> = {
  get: { method: 'GET', path: '/rest', post: false, port },
  post: { method: 'POST', path: '/post', body: graphqlRequest(restPath, PAGE_QUERY).body, post: true, port },
};
for (const [i, set] of routeSets.entries()) {
  const tag = routeSets.length > 1 ? ` ${set.root}` : '';
  runs[`cursor${tag}`] = { method: 'POST', ...graphqlRequest(restPath, PAGE_QUERY), post: true, port: graphqlPorts[i]!, set: i };
  runs[`nodes${tag}`] = { method: 'POST', ...graphqlRequest(restPath, NODES_QUERY), post: true, port: graphqlPorts[i]!, set: i };
}
const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const names = Object.keys(runs).filter((n) => only === null || only.test(n));
const S = Number(process.env.S ?? 3);
const K = Number(process.env.K ?? 3);

/** The handler alone (fake request and response, no socket), as bench/graphql-handler.ts: µs per request. */
function handlerAlone(graphqlRoutes: Routes, body: string, n: number): number {
  const call = graphqlPostCall(graphqlRoutes, guard, AUTH);
  const b = Buffer.from(body);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  for (let i = 0; i < 500; i++) call(ab);
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) call(ab);
  const d = process.cpuUsage(c);
  return (d.user + d.system) / n;
}

const cpu: Record<string, number[]> = {};
const rps: Record<string, number[]> = {};
for (let k = 0; k < K; k++) {
  for (const name of k % 2 === 0 ? names : [...names].reverse()) {
    const r = runs[name]!;
    const c = process.cpuUsage();
    const out = await runWrkStream({
      url: `http://127.0.0.1:${r.port}`,
      requests: [{ method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body } : {}) }],
      headers: { authorization: AUTH, ...(r.post ? { 'content-type': 'application/json', accept: 'application/graphql-response+json' } : {}) },
      connections: 32,
      durationS: S,
    });
    const d = process.cpuUsage(c);
    if (out.status_errors + out.socket_errors > 0) throw new Error(`${name}: ${out.status_errors} bad statuses, ${out.socket_errors} socket errors`);
    (cpu[name] ??= []).push((d.user + d.system) / out.requests);
    (rps[name] ??= []).push(out.requests / out.duration_s);
    if (r.set !== undefined) (cpu[`${name} handler`] ??= []).push(handlerAlone(routeSets[r.set]!.graphqlRoutes, r.body!, 4000));
  }
}
for (const [name, xs] of Object.entries(cpu)) {
  console.log(`${name.padEnd(16)} CPU µs/request median ${median(xs).toFixed(1)}  rounds ${xs.map((x) => x.toFixed(1)).join(' ')}${rps[name] ? `  req/s ${rps[name]!.map((x) => Math.round(x)).join(' ')}` : ''}`);
}
process.exit(0);
