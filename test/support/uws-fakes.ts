// Stand-ins for uWebSockets.js's request and response in unit tests of code that only reads
// headers and writes a header-only answer (CORS, preflights).
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/** A request with these headers (names in lower case); counts how often it is asked for one. */
export function fakeRequest(headers: Record<string, string> = {}): HttpRequest & { reads: number } {
  const req = {
    reads: 0,
    getHeader(name: string) {
      req.reads++;
      return headers[name] ?? '';
    },
  };
  return req as unknown as HttpRequest & { reads: number };
}

/** A response that records what is written: `status 204`, `Name: value`, `end`. */
export function recorder(): { res: HttpResponse; calls: string[] } {
  const calls: string[] = [];
  const res = {
    writeStatus: (s: string) => (calls.push(`status ${s}`), res),
    writeHeader: (k: string, v: string) => (calls.push(`${k}: ${v}`), res),
    endWithoutBody: () => (calls.push('end'), res),
  };
  return { res: res as unknown as HttpResponse, calls };
}
