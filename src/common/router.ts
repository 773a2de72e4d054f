// The app a read API's routes are registered on (the query port's, its own and every route set's:
// GraphQL, the dashboard, the registry, ...; `trackhouse alerts`' on STREAM_PORT), so that each of
// them, whoever wrote it:
//   - answers with a trailing slash as without (`/v1/users/u1/events/`, `/graphql/`): the pattern
//     is registered twice, with the same handler (a wildcard pattern, `/registry/*`, takes both
//     already);
//   - answers OPTIONS (a CORS preflight, ./cors.ts) with the methods registered for it, unless a
//     route set answers OPTIONS there itself;
// and the port ends the same way: a preflight on a path no route takes is granted, everything
// else there is the port's 404. Only registration goes through it: a request runs the route's own
// handler on uWS's app, so the hot paths pay nothing for either. A Proxy of the app, so route sets
// keep their TemplatedApp type. Ops routes (/healthz, ...) go on the app itself: no CORS.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Cors } from './cors.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** The methods a route is registered for, in the order Allow lists them; `any` (the 405s) is none of them. */
const METHODS: ReadonlyMap<string, string> = new Map([
  ['get', 'GET'],
  ['head', 'HEAD'],
  ['post', 'POST'],
  ['put', 'PUT'],
  ['del', 'DELETE'],
  ['patch', 'PATCH'],
]);
const REGISTERING = new Set([...METHODS.keys(), 'options', 'any']);

export interface ApiRouter {
  /** Register routes on this one. */
  readonly app: TemplatedApp;
  /**
   * Call once every route is registered: OPTIONS on every pattern registered so far that has none
   * (cors.preflight with its methods, e.g. 'GET, HEAD, OPTIONS'), then the catch-alls on the app:
   * OPTIONS on any other path is cors.preflightAnyPath's, else `notFound`, as every other method.
   */
  finish(cors: Cors, notFound: Handler): void;
}

/** The pattern and, unless it ends in '/' or a wildcard, the pattern with a trailing slash. */
export function withTrailingSlash(pattern: string): string[] {
  return pattern.endsWith('/') || pattern.endsWith('*') ? [pattern] : [pattern, `${pattern}/`];
}

export function apiRouter(app: TemplatedApp): ApiRouter {
  /** pattern -> its methods, in registration order (both spellings of a pattern share the entry). */
  const methods = new Map<string, Set<string>>();
  const answersOptions = new Set<string>();
  /** `method pattern` already registered: a route set that registers '/x' and '/x/' gets each once. */
  const registered = new Set<string>();

  const register = (method: string, pattern: string, handler: Handler) => {
    for (const p of withTrailingSlash(pattern)) {
      const key = `${method} ${p}`;
      if (registered.has(key)) continue;
      registered.add(key);
      (app[method as 'get'])(p, handler);
    }
    const key = pattern.endsWith('/') && pattern.length > 1 ? pattern.slice(0, -1) : pattern;
    if (method === 'options') answersOptions.add(key);
    const name = METHODS.get(method);
    if (name === undefined) return;
    let set = methods.get(key);
    if (set === undefined) methods.set(key, (set = new Set()));
    set.add(name);
  };

  const proxy: TemplatedApp = new Proxy(app, {
    get(target, prop) {
      if (typeof prop === 'string' && REGISTERING.has(prop)) {
        return (pattern: string, handler: Handler) => {
          register(prop, pattern, handler);
          return proxy;
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });

  return {
    app: proxy,
    finish(cors, notFound) {
      for (const [pattern, names] of methods) {
        if (answersOptions.has(pattern)) continue;
        const allowed = [...[...METHODS.values()].filter((m) => names.has(m)), 'OPTIONS'].join(', ');
        register('options', pattern, (res, req) => cors.preflight(res, req, allowed));
      }
      // On the app itself: a wildcard has no trailing-slash form, and these take every path.
      app.options('/*', (res, req) => {
        if (!cors.preflightAnyPath(res, req)) notFound(res, req);
      });
      app.any('/*', notFound);
    },
  };
}
