// headResponse: what a GET handler writes reaches the client as a HEAD answer: status and headers
// as written, the body's length as Content-Length, no body; chained calls stay on the wrapper.
import { expect, it } from 'vitest';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { headResponse, noRouteBody, writeJson } from './http.js';

/** A stand-in for uWS's response that records the calls made on it. */
function recorder(): { res: HttpResponse; calls: string[] } {
  const calls: string[] = [];
  const res = {
    writeStatus(s: string) {
      calls.push(`status ${s}`);
      return res;
    },
    writeHeader(k: string, v: string) {
      calls.push(`${k}: ${v}`);
      return res;
    },
    end() {
      calls.push('end with body');
      return res;
    },
    endWithoutBody(...args: unknown[]) {
      calls.push(`endWithoutBody(${args.length})`);
      return res;
    },
    cork(cb: () => void) {
      cb();
      return res;
    },
    getRemoteAddressAsText: () => new TextEncoder().encode('127.0.0.1').buffer,
  };
  return { res: res as unknown as HttpResponse, calls };
}

it('sends the status and headers GET writes, the UTF-8 length of its body, and no body', () => {
  const { res, calls } = recorder();
  writeJson(headResponse(res), 200, '{"name":"é"}', [['Cache-Control', 'no-store']]);
  expect(calls).toEqual(['status 200 OK', 'Content-Type: application/json', 'X-Content-Type-Options: nosniff', 'Cache-Control: no-store', 'Content-Length: 13', 'endWithoutBody(0)']);
});

it('keeps chained calls and cork on the wrapper, and counts bytes written before end', () => {
  const { res, calls } = recorder();
  const head = headResponse(res);
  expect(head.writeStatus('200 OK').writeHeader('A', 'b')).toBe(head);
  head.cork(() => {
    head.write(new Uint8Array(5));
    head.end(Buffer.from('abc'));
  });
  expect(calls).toEqual(['status 200 OK', 'A: b', 'Content-Length: 8', 'endWithoutBody(0)']);
  expect(Buffer.from(head.getRemoteAddressAsText()).toString()).toBe('127.0.0.1');
});

it('tells the client to close when GET would have closed the connection', () => {
  const { res, calls } = recorder();
  writeJson(headResponse(res), 503, '{}', undefined, true);
  expect(calls.slice(-3)).toEqual(['Content-Length: 2', 'Connection: close', 'endWithoutBody(0)']);
});

it("a 404's body for HEAD is its GET's, so the HEAD's Content-Length is the GET's", () => {
  const req = (method: string, url: string) => ({ getMethod: () => method, getUrl: () => url }) as unknown as HttpRequest;
  expect(noRouteBody(req('head', '/nope'))).toBe(noRouteBody(req('get', '/nope')));
  expect(JSON.parse(noRouteBody(req('get', '/nope')))).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  expect(JSON.parse(noRouteBody(req('delete', `/${'x'.repeat(300)}`))).message).toBe(`no route for DELETE /${'x'.repeat(199)}`);
});
