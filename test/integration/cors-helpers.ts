// Helpers of the CORS tests of the read API's ports (the query port, `trackhouse alerts`' port),
// over raw HTTP (test/support/raw-http.ts): the requests a browser sends and what to read of the
// answers.
import { expect } from 'vitest';
import type { RawAnswer, RawRequest } from '../support/raw-http.js';

/** The page's origin. */
export const SITE = 'https://app.example';
/** Access-Control-Expose-Headers of every answer to an allowed origin. */
export const EXPOSED = 'Retry-After, WWW-Authenticate, Allow';
/** The methods of a read route (its 405's Allow, its preflight's Allow-Methods). */
export const GET_HEAD = 'GET, HEAD, OPTIONS';

export const bearer = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` });

/** A browser's preflight of `method` on `path` from `origin`, asking for `headers` ('': none). */
export const preflight = (path: string, method = 'GET', origin = SITE, headers = 'authorization, content-type'): RawRequest => ({
  method: 'OPTIONS',
  path,
  headers: { Origin: origin, 'Access-Control-Request-Method': method, ...(headers === '' ? {} : { 'Access-Control-Request-Headers': headers }) },
});

/** The CORS headers of an answer (names in lower case). */
export function corsOf(a: RawAnswer): Record<string, string> {
  return Object.fromEntries(Object.entries(a.headers).filter(([k]) => k.startsWith('access-control-') || k === 'vary'));
}

/** Every header of an answer but Date, which moves. */
export function headersBesidesDate(a: RawAnswer): Record<string, string> {
  const { date: _date, ...rest } = a.headers;
  return rest;
}

/** The request with a slash after its path (before the query string). */
export function withSlash(r: RawRequest): RawRequest {
  const q = r.path.indexOf('?');
  return { ...r, path: q < 0 ? `${r.path}/` : `${r.path.slice(0, q)}/${r.path.slice(q)}` };
}

/**
 * Each answer has its case's status and the headers of `Access-Control-Allow-Origin: *` (no
 * credentials, the exposed headers); `each` adds the checks of one port.
 */
export function expectAnyOriginOnEvery(answers: RawAnswer[], cases: [RawRequest, number][], each: (a: RawAnswer, what: string) => void): void {
  expect(answers).toHaveLength(cases.length);
  answers.forEach((a, i) => {
    const [r, status] = cases[i]!;
    const what = `${r.method} ${r.path}`;
    expect(a.status, what).toBe(status);
    expect(a.headers['access-control-allow-origin'], what).toBe('*');
    expect(a.headers['access-control-expose-headers'], what).toBe(EXPOSED);
    expect(a.headers['access-control-allow-credentials'], what).toBeUndefined();
    each(a, what);
  });
}
