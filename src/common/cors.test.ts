// createCors: the headers an answer gets for each setting and origin, made once (the same array
// each time, so an answer allocates nothing for them), and the preflight's answer.
import { describe, expect, it } from 'vitest';
import { fakeRequest, recorder } from '../../test/support/uws-fakes.js';
import { createCors } from './cors.js';
import type { Headers } from './http.js';

const EXPOSE = ['Retry-After', 'WWW-Authenticate'];

describe('createCors', () => {
  it('with *: any origin, the same array for every request, without reading its Origin', () => {
    const cors = createCors('*', EXPOSE);
    const a = fakeRequest({ origin: 'https://a.example' });
    const none = fakeRequest();
    expect(cors.of(a)).toEqual([
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Expose-Headers', 'Retry-After, WWW-Authenticate'],
    ]);
    expect(cors.of(none)).toBe(cors.of(a));
    expect(a.reads + none.reads).toBe(0);
  });

  it('with a list: a listed origin echoed with Vary: Origin; another, or none, only Vary; each the same array every time', () => {
    const cors = createCors(['https://a.example', 'http://localhost:5173'], EXPOSE);
    const a = cors.of(fakeRequest({ origin: 'https://a.example' }));
    expect(a).toEqual([
      ['Access-Control-Allow-Origin', 'https://a.example'],
      ['Access-Control-Expose-Headers', 'Retry-After, WWW-Authenticate'],
      ['Vary', 'Origin'],
    ]);
    expect(cors.of(fakeRequest({ origin: 'https://a.example' }))).toBe(a);
    expect(cors.of(fakeRequest({ origin: 'http://localhost:5173' }))[0]).toEqual(['Access-Control-Allow-Origin', 'http://localhost:5173']);
    const other = cors.of(fakeRequest({ origin: 'https://evil.example' }));
    expect(other).toEqual([['Vary', 'Origin']]);
    expect(cors.of(fakeRequest())).toBe(other);
    // Origins are compared as browsers send them: exactly.
    expect(cors.of(fakeRequest({ origin: 'https://A.example' }))).toBe(other);
  });

  it('off ([]): no headers at all', () => {
    const cors = createCors([], EXPOSE);
    expect(cors.of(fakeRequest({ origin: 'https://a.example' }))).toEqual([]);
  });

  it('with(): a constant base followed by the CORS headers, made once per answer', () => {
    const base: Headers = [['Cache-Control', 'no-store']];
    for (const cors of [createCors('*', EXPOSE), createCors(['https://a.example'], EXPOSE), createCors([], EXPOSE)]) {
      const reply = cors.with(base);
      for (const origin of ['https://a.example', 'https://b.example', '']) {
        const h = cors.of(fakeRequest({ origin }));
        expect(reply(h)).toEqual([...base, ...h]);
        expect(reply(h)).toBe(reply(cors.of(fakeRequest({ origin }))));
      }
    }
  });

  it('answers a preflight from an allowed origin: 204, Allow, the methods, the headers asked for (Vary on them), a max age; never credentials', () => {
    const { res, calls } = recorder();
    const req = fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' });
    createCors(['https://a.example'], EXPOSE).preflight(res, req, 'GET, HEAD, POST, OPTIONS');
    expect(calls).toEqual([
      'status 204 No Content',
      'Allow: GET, HEAD, POST, OPTIONS',
      'Access-Control-Allow-Origin: https://a.example',
      'Access-Control-Expose-Headers: Retry-After, WWW-Authenticate',
      'Vary: Origin',
      'Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS',
      'Access-Control-Allow-Headers: authorization, content-type',
      'Access-Control-Max-Age: 86400',
      'Vary: Access-Control-Request-Headers',
      'end',
    ]);
    expect(calls.join('\n')).not.toContain('Credentials');
  });

  it('allows Authorization and Content-Type when the preflight names no headers', () => {
    const { res, calls } = recorder();
    createCors('*', EXPOSE).preflight(res, fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'GET' }), 'GET, HEAD, OPTIONS');
    expect(calls).toContain('Access-Control-Allow-Headers: Authorization, Content-Type');
    expect(calls.filter((c) => c.startsWith('Vary'))).toEqual([]);
  });

  it('answers OPTIONS from an origin not allowed, or with CORS off, with 204 and Allow only', () => {
    for (const cors of [createCors(['https://a.example'], EXPOSE), createCors([], EXPOSE)]) {
      const { res, calls } = recorder();
      cors.preflight(res, fakeRequest({ origin: 'https://evil.example', 'access-control-request-method': 'GET' }), 'GET, HEAD, OPTIONS');
      expect(calls.filter((c) => c.startsWith('Access-Control'))).toEqual([]);
      expect(calls.slice(0, 2)).toEqual(['status 204 No Content', 'Allow: GET, HEAD, OPTIONS']);
    }
  });

  it('lets an allowed preflight on a path no route takes through, with the method it asks for and no Allow; anything else is left to the 404', () => {
    const { res, calls } = recorder();
    expect(createCors('*', EXPOSE).preflightAnyPath(res, fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'PUT' }))).toBe(true);
    expect(calls).toContain('Access-Control-Allow-Methods: PUT');
    expect(calls.some((c) => c.startsWith('Allow:'))).toBe(false);
    const untouched = recorder();
    expect(createCors('*', EXPOSE).preflightAnyPath(untouched.res, fakeRequest({ origin: 'https://a.example' }))).toBe(false);
    expect(createCors(['https://a.example'], EXPOSE).preflightAnyPath(untouched.res, fakeRequest({ origin: 'https://b.example', 'access-control-request-method': 'GET' }))).toBe(false);
    expect(createCors([], EXPOSE).preflightAnyPath(untouched.res, fakeRequest({ origin: 'https://a.example', 'access-control-request-method': 'GET' }))).toBe(false);
    expect(untouched.calls).toEqual([]);
  });
});
