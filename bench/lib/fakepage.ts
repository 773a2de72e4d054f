// A page of 50 events shaped like the graphql bench's, laid out as the view reader leaves a page
// (`{"events":` then each row after its header, a comma before each, 1 MiB of room past the rows),
// and a QueryReader whose every page is that one: GraphQL's work without a view read
// (bench/graphql-handler.ts in process, bench/graphql-server.ts behind uWS); and the POST /graphql
// handler called on a fake uWS request and response over it, which both use.
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/log.js';
import type { graphqlRoutes } from '../../src/graphql/routes.js';
import type { QueryReader, RouteGuard, ViewPage } from '../../src/query/index.js';
import type { EventRecord } from '../../src/schema/index.js';
import { ROW_HEADER, storedEvent } from '../../src/view/render.js';

function ev(i: number): EventRecord {
  const ts = 1764000000000 + i * 1000;
  const p = 1000 + i;
  return {
    event_id: `a1b2c3d4-${String(1000 + i)}-0000-8abc-deadbeef${String(i % 10)}a1b`, type: 'track', event: 'Product Viewed', user_id: 'user-1234', anonymous_id: 'anon-00000000-1234-5678',
    timestamp: ts, sent_at: ts + 40, received_at: ts + 60, source: 'web', category: i % 2 ? 'shop' : null, group_id: 'org-12', name: null, previous_id: null,
    properties: `{"product_id":"prod-${p}","sku":"SKU-${p}-M","name":"Product ${p}","price":${p % 500}.99,"currency":"USD","quantity":2,"position":4,"url":"https://shop.example.com/p/${p}","brand":"Brand 7"}`,
    traits: '{}',
    context: `{"library":{"name":"analytics.js","version":"4.1.0"},"ip":"203.0.1.2","locale":"en-US","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","page":{"path":"/p/${p}"},"groupId":"org-12"}`,
  };
}

const events = Array.from({ length: 51 }, (_, i) => ev(i));
const stored = events.map((e) => storedEvent(e));
const prefix = Buffer.from('{"events":');
const parts: Buffer[] = [prefix];
const ends: number[] = [];
let pos = prefix.length;
for (const s of stored.slice(0, 50)) {
  parts.push(Buffer.from(','), s.subarray(ROW_HEADER));
  pos += 1 + s.length - ROW_HEADER;
  ends.push(pos);
}
const rows = {
  buffer: Buffer.concat([...parts, Buffer.alloc(1 << 20)]),
  rowHeaders: Buffer.concat(stored.slice(0, 50).map((s) => s.subarray(0, ROW_HEADER))),
  start: (i: number) => (i === 0 ? prefix.length : ends[i - 1]!) + 1,
  end: (i: number) => ends[i]!,
  time: (i: number) => events[i]!.timestamp,
};
const page: ViewPage = { rows: rows as never, count: 50, hasNext: true };

/** The reader: every events page the view answers is the fake one; nothing else is asked. */
export const fakeReader: QueryReader = {
  limits: { defaultLimit: 50, maxLimit: 1000 },
  viewPage: () => page,
  events: () => {
    throw new Error('not fast');
  },
  rollups: () => Promise.reject(new Error('x')),
};

/** REST's reply body for the same 50 rows (`{"events":[...],"next_cursor":...}`), as the view reader writes it. */
export const restBody: Buffer = Buffer.concat([Buffer.from('{"events":['), ...stored.slice(0, 50).flatMap((s, i) => (i === 0 ? [s.subarray(ROW_HEADER)] : [Buffer.from(','), s.subarray(ROW_HEADER)])), Buffer.from('],"next_cursor":"MXwxNzY0MDAwMDQ5MDAwfGFiY2RlZnxhMWIyYzNkNC0xMDQ5LTAwMDAtOGFiYy1kZWFkYmVlZjlhMWI"}')]);

type Handler = (res: unknown, req: unknown) => void;

/**
 * The POST /graphql handler of `routes` (some build's graphqlRoutes) registered on a fake uWS app
 * over fakeReader, with `guard`, and a call that runs it on one request body with a fake request
 * (`authorization` and GraphQL's content headers) and response, no socket: what src/graphql adds to
 * a page. The call returns what the handler ended the response with (null: it did not answer at once).
 */
export function graphqlPostCall(routes: typeof graphqlRoutes, guard: RouteGuard, authorization: string): (body: ArrayBuffer) => unknown {
  let post: Handler | null = null;
  const app = {
    get: () => app,
    head: () => app,
    post: (_path: string, h: Handler) => {
      post = h;
      return app;
    },
    any: () => app,
  };
  const config = { graphql: { maxDepth: 15, maxCost: 5000, introspection: 'auto' }, keys: { read: new Set([authorization.replace(/^Bearer /, '')]) } };
  routes({ config: config as never, log: silentLogger(), stream: null, registry: new Registry() })(app as never, guard, fakeReader);
  const headers: Record<string, string> = { authorization, accept: 'application/graphql-response+json, application/json', 'content-type': 'application/json' };
  const req = { getHeader: (k: string) => headers[k] ?? '', getMethod: () => 'post', getQuery: () => '' };
  return (body) => {
    let onData: ((c: ArrayBuffer, last: boolean) => void) | null = null;
    let reply: unknown = null;
    const res = {
      onAborted: () => res,
      onData: (f: typeof onData) => {
        onData = f;
        return res;
      },
      cork: (f: () => void) => {
        f();
        return res;
      },
      writeStatus: () => res,
      writeHeader: () => res,
      end: (b: unknown) => {
        reply = b;
        return res;
      },
    };
    post!(res, req);
    // uWS hands each chunk as an ArrayBuffer it reuses after the callback.
    onData!(body, true);
    return reply;
  };
}
