// apiRouter: each pattern a route set registers is registered on the app as given and with a
// trailing slash, each (method, path) once, and finish() adds OPTIONS with the methods registered
// for the path, then the port's catch-alls; anything else on the app is the app's own.
import { describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { fakeRequest, recorder } from '../../test/support/uws-fakes.js';
import { createCors } from './cors.js';
import { getAndHead } from './http.js';
import { apiRouter, withTrailingSlash } from './router.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** A stand-in for uWS's app that records each registration as `method pattern`, and its handlers. */
function recordingApp(): { app: TemplatedApp; routes: string[]; handlers: Map<string, Handler> } {
  const routes: string[] = [];
  const handlers = new Map<string, Handler>();
  const app: Record<string, unknown> = { numSubscribers: () => 7 };
  for (const m of ['get', 'head', 'post', 'put', 'del', 'patch', 'options', 'any']) {
    app[m] = (pattern: string, handler: Handler) => {
      routes.push(`${m} ${pattern}`);
      handlers.set(`${m} ${pattern}`, handler);
      return app;
    };
  }
  return { app: app as unknown as TemplatedApp, routes, handlers };
}

describe('withTrailingSlash', () => {
  it('adds the slash form unless the pattern ends in a slash or a wildcard', () => {
    expect(withTrailingSlash('/v1/users/:userId/events')).toEqual(['/v1/users/:userId/events', '/v1/users/:userId/events/']);
    expect(withTrailingSlash('/dashboard/')).toEqual(['/dashboard/']);
    expect(withTrailingSlash('/registry/*')).toEqual(['/registry/*']);
  });
});

describe('apiRouter', () => {
  it('registers every pattern with and without a trailing slash, the same handler for both', () => {
    const { app, routes, handlers } = recordingApp();
    const router = apiRouter(app);
    const handler: Handler = () => {};
    router.app.post('/graphql', handler);
    router.app.any('/graphql', handler);
    expect(routes).toEqual(['post /graphql', 'post /graphql/', 'any /graphql', 'any /graphql/']);
    expect(handlers.get('post /graphql/')).toBe(handler);
  });

  it('registers a pattern given with and without its slash once', () => {
    const { app, routes } = recordingApp();
    const router = apiRouter(app);
    router.app.get('/dashboard', () => {});
    router.app.get('/dashboard/', () => {});
    expect(routes).toEqual(['get /dashboard', 'get /dashboard/']);
  });

  it('adds OPTIONS on finish with the methods each path was registered for, in Allow order; the 405s (any) add none', () => {
    const { app, routes, handlers } = recordingApp();
    const router = apiRouter(app);
    const noop: Handler = () => {};
    getAndHead(router.app, '/v1/users/:userId/events', noop);
    router.app.any('/v1/users/:userId/events', noop);
    router.app.post('/graphql', noop);
    getAndHead(router.app, '/graphql', noop);
    for (const m of ['get', 'head', 'post', 'put', 'del'] as const) router.app[m]('/registry/*', noop);
    router.app.options('/own', noop);
    router.app.get('/own', noop);
    router.finish(createCors('*', []), noop);
    expect(routes.filter((r) => r.startsWith('options'))).toEqual([
      'options /own',
      'options /own/',
      'options /v1/users/:userId/events',
      'options /v1/users/:userId/events/',
      'options /graphql',
      'options /graphql/',
      'options /registry/*',
      'options /*',
    ]);
    const allowOf = (route: string) => {
      const { res, calls } = recorder();
      handlers.get(route)!(res, fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'GET' }));
      return [calls[0], calls.find((c) => c.startsWith('Allow: '))];
    };
    expect(['options /v1/users/:userId/events/', 'options /graphql', 'options /registry/*'].map(allowOf)).toEqual([
      ['status 204 No Content', 'Allow: GET, HEAD, OPTIONS'],
      ['status 204 No Content', 'Allow: GET, HEAD, POST, OPTIONS'],
      ['status 204 No Content', 'Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS'],
    ]);
    // A route set's own OPTIONS stays its own.
    expect(handlers.get('options /own')).toBe(noop);
  });

  it('ends the port on finish: a preflight on any other path is granted, anything else there is notFound', () => {
    const { app, routes, handlers } = recordingApp();
    const router = apiRouter(app);
    router.app.get('/v1/volume', () => {});
    const missed: string[] = [];
    const notFound: Handler = (_res, req) => void missed.push(req.getHeader('origin'));
    router.finish(createCors('*', []), notFound);
    expect(routes.slice(-2)).toEqual(['options /*', 'any /*']);
    expect(handlers.get('any /*')).toBe(notFound);
    const granted = recorder();
    handlers.get('options /*')!(granted.res, fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'GET' }));
    expect(granted.calls[0]).toBe('status 204 No Content');
    const plain = recorder();
    handlers.get('options /*')!(plain.res, fakeRequest({ origin: 'https://plain.example' }));
    expect([plain.calls, missed]).toEqual([[], ['https://plain.example']]);
  });

  it('leaves the rest of the app as it is, and chains registrations on the router', () => {
    const { app } = recordingApp();
    const router = apiRouter(app);
    expect((router.app as unknown as { numSubscribers(): number }).numSubscribers()).toBe(7);
    expect(router.app.get('/a', () => {})).toBe(router.app);
  });
});
