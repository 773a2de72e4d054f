// The schema registry on the query port, under /registry (a client's registry URL is
// http://<query host>:8081/registry): src/registry/answers.ts's answers, read key required.
// Registry clients send HTTP Basic credentials (`basic.auth.user.info`, kcat's `user:pass@` URL),
// so the read key is taken as the Basic user name or password, or as a Bearer token as elsewhere
// on this port. Replies and errors are in Confluent's shape (`{"error_code":N,"message":...}`),
// which its clients parse.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Cors } from '../common/cors.js';
import { basicCredentials, bearerToken, forMethod, NO_STORE, readText, requireIdentityEncoding, writeReply, type Headers } from '../common/http.js';
import { registryError, registryMethods, type RegistryAnswer, type SchemaRegistryAnswers } from './answers.js';

export const REGISTRY_PATH = '/registry';
const NOT_FOUND = registryError(404, 404, 'HTTP 404 Not Found');
const METHOD_NOT_ALLOWED = registryError(405, 405, 'HTTP 405 Method Not Allowed');
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Schema texts are a few KB; Confluent's own request limit is far above any real schema. */
const MAX_BODY_BYTES = 1024 * 1024;
const REPLY: Headers = [NO_STORE];
const CHALLENGE: Headers = [NO_STORE, ['WWW-Authenticate', 'Basic realm="trackhouse", charset="UTF-8"']];
const RETRY: Headers = [NO_STORE, ['Retry-After', '1']];

export interface RegistryRoutesOptions {
  answers: SchemaRegistryAnswers;
  readKeys: ReadonlySet<string>;
  /** True once the server drains: requests get 503. */
  draining(): boolean;
  /** Counts a request answered after its handler returns (a POST's body) as in flight; call the result once answered. */
  begin(): () => void;
  /** Records an answer in the server's request metrics. */
  done(status: number, start: number): void;
  /** The query port's CORS (QUERY_CORS_ORIGINS): its headers go on every answer. */
  cors: Cors;
}

/** Whether an Authorization header carries a read key: Bearer, or Basic as user name or password. */
export function carriesReadKey(header: string, readKeys: ReadonlySet<string>): boolean {
  const token = bearerToken(header);
  if (token !== null) return readKeys.has(token);
  const basic = basicCredentials(header);
  return basic !== null && (readKeys.has(basic.user) || (basic.password !== null && readKeys.has(basic.password)));
}

/** The path after /registry as segments, percent-decoded; null for one that does not decode. */
export function registrySegments(url: string): string[] | null {
  const rest = url.slice(REGISTRY_PATH.length);
  const segments: string[] = [];
  for (const part of rest.split('/')) {
    if (part === '') continue;
    try {
      segments.push(decodeURIComponent(part));
    } catch {
      return null;
    }
  }
  return segments;
}

export function addRegistryRoutes(app: TemplatedApp, o: RegistryRoutesOptions): void {
  const send = (res: HttpResponse, answer: RegistryAnswer, start: number, cors: Headers, headers: Headers = REPLY, close = false) => {
    writeReply(res, answer.status, CONTENT_TYPE, answer.body, [...cors, ...headers], close);
    o.done(answer.status, start);
  };
  const handler = (res: HttpResponse, req: HttpRequest) => {
    const start = performance.now();
    const method = req.getMethod();
    const out = forMethod(res, req);
    const cors = o.cors.of(req);
    if (o.draining()) {
      send(out, registryError(503, 50003, 'this query server is shutting down; retry on another'), start, cors, RETRY, true);
      return;
    }
    // A method the path does not take is told as the port's other 405s are, key or not.
    const segments = registrySegments(req.getUrl());
    const allow = segments === null ? null : registryMethods(segments);
    if (allow !== null && !`, ${allow},`.includes(`, ${method.toUpperCase()},`)) {
      send(out, METHOD_NOT_ALLOWED, start, cors, [NO_STORE, ['Allow', allow]]);
      return;
    }
    if (!carriesReadKey(req.getHeader('authorization'), o.readKeys)) {
      send(out, registryError(401, 40101, 'a read key is required: HTTP Basic auth with the read key as user name, or Authorization: Bearer <read key>'), start, cors, CHALLENGE);
      return;
    }
    if (segments === null || allow === null) {
      send(out, NOT_FOUND, start, cors);
      return;
    }
    if (method === 'get' || method === 'head') {
      send(out, o.answers.get(segments, new URLSearchParams(req.getQuery() ?? '')), start, cors);
      return;
    }
    if (method !== 'post') {
      // PUT and DELETE: a registry's writes, refused as a read-only one refuses them.
      send(out, o.answers.change(), start, cors);
      return;
    }
    try {
      requireIdentityEncoding(req);
    } catch (err) {
      send(out, registryError(415, 415, (err as Error).message), start, cors);
      return;
    }
    const state = { aborted: false, end: o.begin() };
    res.onAborted(() => {
      state.aborted = true;
      state.end();
    });
    const answer = (reply: RegistryAnswer, close: boolean) => {
      if (!state.aborted) res.cork(() => send(res, reply, start, cors, REPLY, close));
      state.end();
    };
    readText(
      res,
      MAX_BODY_BYTES,
      (text) => answer(o.answers.post(segments, text), false),
      () => answer(registryError(413, 413, `a request body may have at most ${MAX_BODY_BYTES} bytes`), true),
    );
  };
  // Each path's methods (registryMethods) answer OPTIONS, as a CORS preflight or not; the others
  // get 405 with them in Allow.
  const options = (res: HttpResponse, req: HttpRequest) => {
    const segments = registrySegments(req.getUrl());
    const allow = segments === null ? null : registryMethods(segments);
    if (allow !== null) o.cors.preflight(res, req, allow);
    else if (!o.cors.preflightAnyPath(res, req)) send(res, NOT_FOUND, performance.now(), o.cors.of(req));
  };
  for (const path of [REGISTRY_PATH, `${REGISTRY_PATH}/*`]) {
    app.options(path, options);
    app.any(path, handler);
  }
}
