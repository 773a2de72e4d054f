// POST /graphql and GET /graphql on the query port, through graphql-http (the GraphQL-over-HTTP
// spec's server) with a uWebSockets.js adapter of our own: the read key is checked by the query
// server's guard before anything is read, the body is bounded, and every answer is counted in the
// query API's request metrics (graphql-http's bundled uWS adapter does none of the three).
//
// Per request: the document is looked up by its text (parsed and validated once, depth rule
// included), the cost is computed with the request's variables, then a page of one user's events
// the view answers is written from the view's row bytes (./fastpage.ts; a POST within its call),
// and anything else is executed by graphql-jit.
// GET (and HEAD: GET's answer without its body) takes a `query`, or a persisted query: `extensions={"persistedQuery":{"version":1,
// "sha256Hash":"<sha256 of the query text>"}}` for any document this server has validated; a
// POST the same `extensions` in its JSON body without `query`. A JSON array body (a batch) is refused.
import { createHash } from 'node:crypto';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { createHandler, parseRequestParams, type OperationArgs, type Request as GqlRequest, type RequestParams, type Response as GqlResponse } from 'graphql-http';
import { execute, GraphQLError, type ExecutionResult, NoSchemaIntrospectionCustomRule, parse, validate, visit, type ASTNode, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { HttpError } from '../common/errors.js';
import { forMethod, getAndHead, NOSNIFF, readText, requireIdentityEncoding, writeJson, type Headers } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { keep } from '../common/keep.js';
import { Counter, type Registry } from '../common/metrics.js';
import { malformedEncoding } from '../common/querystring.js';
import { DEV_READ_KEY, type Config } from '../config/index.js';
import type { QueryRoutes } from '../query/index.js';
import { restoreDigits, withoutMarkers } from './exactjson.js';
import { BodyShape } from './fastbody.js';
import { planFastPage, writeFastPage, type FastPlan } from './fastpage.js';
import { costEstimator, costLimit, validationRules } from './limits.js';
import { buildGraphqlSchema, type StreamSource } from './schema.js';

/** Largest POST body read (a query with its variables); larger ones get 413 before parsing. */
export const MAX_BODY_BYTES = 256 * 1024;
/** Longest document parsed, in tokens (graphql-js stops parsing past it). */
export const MAX_TOKENS = 10_000;
/** Documents kept parsed and validated (by text), and persisted-query hashes kept. */
const DOCUMENTS_KEPT = 1_000;

export interface GraphqlRoutesOptions {
  config: Config;
  log: Logger;
  /** The hosted stream component, for volume and alerts; null: they answer stream_unavailable. */
  stream: StreamSource | null;
  /** For trackhouse_graphql_fast_pages_total; absent: not counted. */
  registry?: Registry;
}

interface Prepared {
  document: DocumentNode | null;
  errors: readonly GraphQLError[];
  /** Variables the cost depends on (`first: $x`, and those of @skip/@include), and the costs seen per their values. */
  costVariables: readonly string[];
  costs: Map<string, GraphQLError | null>;
  /** The document compiled by graphql-jit, and its fast page plan (./fastpage.ts; null: none), per operation name ('' for the only one). */
  compiled: Map<string, Compiled>;
}

interface Compiled {
  query: CompiledQuery;
  fast: FastPlan | null;
}

type RunContext = Record<PropertyKey, unknown> & { compiled: Compiled; authorization: string; caller: Caller; digits: string[] };
/**
 * A request being answered: whether its client is gone, the end of its time in flight
 * (RouteGuard.begin), and its CORS headers (RouteGuard.cors.of(), read in the handler).
 */
interface Flight {
  aborted: boolean;
  end: () => void;
  cors: Headers;
}
/** The request headers as run() gives them to graphql-http. */
interface RequestHeaders {
  get(key: string): string | null;
}
/**
 * What the HTTP request carries into graphql-http: the caller's Authorization header, and back out
 * of it: the answer's bytes when the fast page wrote them (graphql-http's body is then empty).
 */
interface Caller {
  authorization: string;
  reply: Buffer | null;
}

/** The result execute() gives graphql-http when the fast page has written the answer into Caller.reply. */
const FAST_RESULT: ExecutionResult = Object.freeze({ data: null });

/** The answer to a persisted query's hash this server has not seen (Apollo's protocol: 200, the client retries with the text). */
const PERSISTED_QUERY_NOT_FOUND: GqlResponse = [
  JSON.stringify({ errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] }),
  { status: 200, statusText: 'OK', headers: { 'content-type': 'application/json; charset=utf-8' } },
];

/** Why a POST body that is a JSON array (a batch of operations, Apollo's BatchHttpLink) is refused. */
export const BATCH_REFUSED = 'batched operations (a JSON array body) are not supported: send one operation per request (Apollo Client: HttpLink, not BatchHttpLink)';

/** Cost verdicts kept per document (per values of its cost variables). */
const COSTS_KEPT = 64;

/** The variables a document's cost depends on: those given to `first` and to directives. */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (n: ASTNode) => visit(n, { Variable: (v) => void names.add(v.name.value) });
  visit(document, {
    Argument: (a) => {
      if (a.name.value === 'first') collect(a.value);
    },
    Directive: (d) => {
      collect(d);
      return false;
    },
    VariableDefinition: () => false,
  });
  return [...names];
}

/** Whether introspection is allowed (GRAPHQL_INTROSPECTION; auto: only with the development read key). */
export function introspectionAllowed(config: Config): boolean {
  const setting = config.graphql.introspection;
  return setting === 'on' || (setting === 'auto' && config.keys.read.has(DEV_READ_KEY));
}

const NO_STORE = ['cache-control', 'no-store'] as const;

const GRAPHQL_RESPONSE = 'application/graphql-response+json; charset=utf-8';
const JSON_RESPONSE = 'application/json; charset=utf-8';

/**
 * The media type graphql-http answers a result with: the first of GraphQL's or JSON's that the
 * Accept header allows (graphql-http refused the request with 406 before if it allows neither).
 */
function mediaTypeOf(accept: string | null | undefined): string {
  return acceptedMediaType(accept) ?? JSON_RESPONSE;
}

/** Accept and Content-Type headers seen, with what they decide (a client sends the same ones every time). */
const HEADERS_KEPT = 64;
const acceptSeen = new Map<string, string | null>();
const jsonBodySeen = new Map<string, boolean>();

/** A POST body graphql-http would read as a JSON object (its content-type, not an array), parsed; else null. */
function jsonObject(headers: Map<string, string>, body: string): Record<string, unknown> | null {
  if (body === '' || !jsonBody(headers.get('content-type') ?? '')) return null;
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return null;
  }
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
}

/** acceptedMediaType() remembered per Accept header (it splits and lowercases it). */
function acceptedMediaTypeOf(accept: string): string | null {
  const seen = acceptSeen.get(accept);
  return seen !== undefined ? seen : keep(acceptSeen, accept, acceptedMediaType(accept), HEADERS_KEPT);
}

/** Whether a Content-Type is the one graphql-http reads a JSON body with (application/json, UTF-8), remembered per header. */
function jsonBody(contentType: string): boolean {
  const seen = jsonBodySeen.get(contentType);
  if (seen !== undefined) return seen;
  const [type, charset = 'charset=utf-8'] = contentType.replace(/\s/g, '').toLowerCase().split(';');
  return keep(jsonBodySeen, contentType, type === 'application/json' && charset === 'charset=utf-8', HEADERS_KEPT);
}

/** As mediaTypeOf(), or null when the Accept header allows neither (graphql-http's 406). */
function acceptedMediaType(accept: string | null | undefined): string | null {
  for (const a of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type, ...params] = a.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (type === 'application/graphql-response+json' && charset === 'charset=utf-8') return GRAPHQL_RESPONSE;
    if ((type === 'application/json' || type === 'application/*' || type === '*/*') && (charset === 'charset=utf-8' || charset === 'charset=utf8')) return JSON_RESPONSE;
  }
  return null;
}

export function graphqlRoutes(opts: GraphqlRoutesOptions): QueryRoutes {
  // Counted in a number, handed to prom-client when the metrics are read (its inc() costs about
  // a microsecond on this machine, per page). One metric for every app the routes are added to
  // (the plain port's, the HTTPS port's, each reloaded certificate's): a second registration throws.
  let fastPages = 0;
  new Counter({
    name: 'trackhouse_graphql_fast_pages_total',
    help: 'GraphQL pages of user.events written from the view\'s row bytes (the fast page); other operations and pages are executed by graphql-jit',
    registers: opts.registry ? [opts.registry] : [],
    collect() {
      this.inc(fastPages);
      fastPages = 0;
    },
  });
  return (app, guard, reader) => {
    const { config, log } = opts;
    const schema: GraphQLSchema = buildGraphqlSchema({ reader, stream: opts.stream, log });
    const rules: ValidationRule[] = validationRules(config.graphql.maxDepth);
    if (!introspectionAllowed(config)) rules.push(NoSchemaIntrospectionCustomRule);
    const cost = costLimit(schema, config.graphql.maxCost, costEstimator(reader.limits.defaultLimit, reader.limits.maxLimit));

    const bodyShape = new BodyShape();
    const documents = new Map<string, Prepared>();
    const persisted = new Map<string, string>();
    // The last document asked for: a client sends the same text every time, and comparing it costs
    // less than hashing it for the map (a new string per request).
    let lastQuery = '';
    let lastPrepared: Prepared | null = null;
    const prepare = (query: string): Prepared => {
      if (query !== lastQuery || lastPrepared === null) {
        lastPrepared = documents.get(query) ?? parseAndValidate(query);
        lastQuery = query;
      }
      return lastPrepared;
    };
    /** A document not seen yet (or forgotten): parsed and validated once, then kept. */
    const parseAndValidate = (query: string): Prepared => {
      let p: Prepared;
      try {
        const document = parse(query, { maxTokens: MAX_TOKENS });
        const errors = validate(schema, document, rules);
        p = { document: errors.length === 0 ? document : null, errors, costVariables: errors.length === 0 ? costVariables(document) : [], costs: new Map(), compiled: new Map() };
      } catch (err) {
        p = { document: null, errors: [err instanceof GraphQLError ? err : new GraphQLError('the query could not be parsed')], costVariables: [], costs: new Map(), compiled: new Map() };
      }
      keep(documents, query, p, DOCUMENTS_KEPT);
      if (p.document !== null) keep(persisted, createHash('sha256').update(query).digest('hex'), query, DOCUMENTS_KEPT);
      return p;
    };

    /**
     * The text of a persisted query asked for by its hash alone (`extensions.persistedQuery.
     * sha256Hash`, Apollo's automatic persisted queries): the text this server validated under
     * that hash, PersistedQueryNotFound's answer (the client then sends the text once), or
     * undefined when the extensions name no hash.
     */
    const persistedText = (extensions: unknown): string | GqlResponse | undefined => {
      const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null)?.persistedQuery?.sha256Hash;
      if (typeof hash !== 'string') return undefined;
      return persisted.get(hash.toLowerCase()) ?? PERSISTED_QUERY_NOT_FOUND;
    };

    /**
     * A request's operation, validated, within the cost limit and compiled (each step once per
     * document, operation and cost-relevant variables), or the errors that refuse it.
     */
    const operation = (query: string, variables: Record<string, unknown> | undefined, operationName: string | null): { p: Prepared & { document: DocumentNode }; compiled: Compiled } | readonly GraphQLError[] => {
      const p = prepare(query);
      if (p.document === null) return p.errors;
      // The cost is computed once per document and values of the variables it depends on (a
      // user id is not one of them), not per request: computing it is a walk of the document.
      let key = operationName ?? '';
      for (const v of p.costVariables) {
        const x = variables?.[v];
        // A number's JSON is its String(); anything else through JSON.stringify.
        key += `|${typeof x === 'number' ? String(x) : JSON.stringify(x ?? null)}`;
      }
      let over = p.costs.get(key);
      if (over === undefined) {
        over = cost.check(p.document, variables, operationName ?? undefined);
        keep(p.costs, key, over, COSTS_KEPT);
      }
      if (over !== null) return [over];
      const name = operationName ?? '';
      let compiled = p.compiled.get(name);
      if (compiled === undefined) {
        const c = compileQuery(schema, p.document, name === '' ? undefined : name);
        if (!isCompiledQuery(c)) return c.errors ?? [new GraphQLError('the operation could not be compiled')];
        compiled = { query: c, fast: planFastPage(schema, p.document, name === '' ? null : name) };
        keep(p.compiled, name, compiled, COSTS_KEPT);
      }
      return { p: p as Prepared & { document: DocumentNode }, compiled };
    };

    const handler = createHandler<HttpResponse, Caller, RunContext>({
      schema,
      // A persisted query's hash without its text (GET's parameters or a POST's JSON body): the
      // text it stands for. A POST body that is a JSON array (Apollo's BatchHttpLink): refused
      // by name (graphql-http would say "Missing query").
      parseRequestParams(req): Promise<RequestParams | GqlResponse> | GqlResponse | void {
        if (req.method === 'GET') {
          const raw = req.url.slice(req.url.indexOf('?') + 1);
          // As REST refuses it: URLSearchParams would look `%zz` up as it is.
          const malformed = malformedEncoding(raw);
          if (malformed !== null) throw malformed;
          const search = new URLSearchParams(raw);
          if (search.has('query')) return;
          let extensions: unknown;
          try {
            extensions = JSON.parse(search.get('extensions') ?? 'null');
          } catch {
            return;
          }
          const query = persistedText(extensions);
          if (typeof query !== 'string') return query;
          search.set('query', query);
          return parseRequestParams({ ...req, url: `/graphql?${search}` });
        }
        if (req.method !== 'POST') return;
        // Text: a body run() could not read as a JSON object, answered by graphql-http (415, 400)
        // but an array, refused by name. graphql-http answers an Error thrown here (not a
        // GraphQLError) 400 with its message alone.
        if (typeof req.body === 'string') {
          if (/^\s*\[/.test(req.body) && jsonBody((req.headers as RequestHeaders).get('content-type') ?? '')) throw new HttpError('invalid_body', BATCH_REFUSED);
          return;
        }
        // The object run() parsed (graphql-http takes it as it is, not parsing the text again).
        const data = req.body as Record<string, unknown>;
        if (data.query != null) return;
        const query = persistedText(data.extensions);
        if (typeof query !== 'string') return query;
        return parseRequestParams({ ...req, body: { ...data, query } });
      },
      onSubscribe(req, params): OperationArgs<RunContext> | readonly GraphQLError[] {
        const variables = params.variables ?? undefined;
        const found = operation(params.query, variables, params.operationName ?? null);
        if (!('compiled' in found)) return found;
        const { p, compiled } = found;
        // The compiled query travels to execute in the context; resolvers read the Authorization
        // header from it (a page another shard holds is asked for with the caller's key).
        const context: RunContext = { compiled, authorization: req.context.authorization, caller: req.context, digits: [] };
        return { schema, document: p.document, variableValues: variables, operationName: params.operationName ?? null, contextValue: context, rootValue: undefined };
      },
      // A page of one user's events the view answers: written from the view's row bytes when the
      // operation has a fast plan (./fastpage.ts), the same bytes as executing it, at about REST's
      // cost. Else graphql-jit's compiled query runs it: about 3 times faster than graphql-js's
      // execute on a page of events (measured with 50 events of 15 fields), answers the same.
      execute: (args) => {
        const context = args.contextValue as RunContext;
        const { fast, query } = context.compiled;
        if (fast !== null) {
          const reply = writeFastPage(fast, schema, args.variableValues as Record<string, unknown> | undefined, reader);
          if (reply !== null) {
            fastPages++;
            // A copy: the page's buffer serves the next page, and this one is written after graphql-http's awaits.
            context.caller.reply = Buffer.from(reply);
            return FAST_RESULT;
          }
        }
        return query.query(undefined, args.contextValue, args.variableValues) as ReturnType<typeof execute>;
      },
      // A result without errors is serialized here, not by graphql-http: its JSON.stringify has a
      // replacer (for errors), which takes V8 off its fast path for the whole page (a third of the
      // serialization's time on a page of 50 events). Status and media type as graphql-http's.
      // Integers past 2^53 in the events' JSON are written back as their digits (./exactjson.ts).
      // graphql-http writes an answer with errors: its data (null today, every root field being
      // non-null) gets them as JSON.parse reads them, never a marker.
      onOperation(req, args, result): GqlResponse | void {
        if (result === FAST_RESULT) return ['', { status: 200, statusText: 'OK', headers: { 'content-type': mediaTypeOf((req.headers as RequestHeaders).get('accept')) } }];
        const { digits } = args.contextValue as RunContext;
        if ((result as ExecutionResult).errors !== undefined) {
          if (digits.length > 0) (result as { data?: unknown }).data = withoutMarkers((result as ExecutionResult).data, digits);
          return;
        }
        return [restoreDigits(JSON.stringify(result), digits), { status: 200, statusText: 'OK', headers: { 'content-type': mediaTypeOf((req.headers as RequestHeaders).get('accept')) } }];
      },
    });

    /**
     * An admitted request until it is answered: in flight for the server's stop() from admission
     * (its body may still be arriving) until its answer is written or the client is gone.
     */
    const open = (res: HttpResponse, cors: Headers): Flight => {
      const state: Flight = { aborted: false, end: guard.begin(), cors };
      res.onAborted(() => {
        state.aborted = true;
        state.end();
      });
      return state;
    };

    /**
     * The fast page, answered within this call (no promise, no copy of the page: uWS copies it as
     * it is written, like REST's) for a POST graphql-http would take as it is and whose operation
     * has a fast plan the view answers; false (nothing written) for any other, which graphql-http
     * then handles as before. Each check is graphql-http's own, so the answer is the one it would
     * give through execute() and onOperation().
     */
    const fastPost = (res: HttpResponse, state: Flight, start: number, headers: Map<string, string>, data: Record<string, unknown>): boolean => {
      const media = acceptedMediaTypeOf(headers.get('accept') ?? '');
      if (media === null) return false;
      const { query: text, variables, operationName, extensions } = data;
      // A persisted query's hash alone (Apollo's automatic persisted queries over POST): its text.
      const query = text == null ? persistedText(extensions) : text;
      if (typeof query !== 'string') return false;
      if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return false;
      if (operationName != null && typeof operationName !== 'string') return false;
      if (extensions != null && (typeof extensions !== 'object' || Array.isArray(extensions))) return false;
      const vars = (variables ?? undefined) as Record<string, unknown> | undefined;
      if (!fastAnswer(res, state, start, media, query, vars, (operationName as string | null | undefined) ?? null)) return false;
      // The next body likely has the same document: read from its bytes (fastBytes) when it has this shape.
      if (operationName == null && extensions == null) bodyShape.remember(query);
      return true;
    };

    /**
     * A body that came in one chunk (bytes valid during this call only), read by BodyShape (no
     * text decoded, no JSON.parse) when it has the usual shape: answered by the fast page, or
     * else by graphql-http (fastPost would only read the same again); true. False: not that
     * shape, or headers fastPost refuses: the body is decoded and goes through run() as before.
     */
    const fastBytes = (res: HttpResponse, state: Flight, start: number, headers: Map<string, string>, bytes: Buffer): boolean => {
      const vars = bodyShape.read(bytes);
      if (vars === null) return false;
      const media = acceptedMediaTypeOf(headers.get('accept') ?? '');
      if (media === null || !jsonBody(headers.get('content-type') ?? '')) return false;
      if (!fastAnswer(res, state, start, media, bodyShape.query, vars, null)) run(res, state, start, 'POST', '/graphql', headers, bytes.toString('utf8'), false);
      return true;
    };

    /** The fast page of a request whose parameters are read, written (true), or false: nothing written. */
    const fastAnswer = (res: HttpResponse, state: Flight, start: number, media: string, query: string, vars: Record<string, unknown> | undefined, operationName: string | null): boolean => {
      const found = operation(query, vars, operationName);
      if (!('compiled' in found) || found.compiled.fast === null) return false;
      const reply = writeFastPage(found.compiled.fast, schema, vars, reader);
      if (reply === null) return false;
      fastPages++;
      // Not in res.cork(): this runs inside uWS's onData callback, where the socket is corked
      // already (as in a route handler; uWS warns of writes outside a cork, and none comes here).
      // cork() would cost a closure and a call from C++ back into JS per page.
      if (!state.aborted) {
        res.writeStatus('200 OK');
        res.writeHeader(NO_STORE[0], NO_STORE[1]);
        res.writeHeader('content-type', media);
        res.writeHeader(NOSNIFF[0], NOSNIFF[1]);
        for (const [k, v] of state.cors) res.writeHeader(k, v);
        res.end(reply);
      }
      guard.done('graphql', 200, start);
      state.end();
      return true;
    };

    /** Runs graphql-http on a request whose headers and body have been read. */
    const run = (res: HttpResponse, state: Flight, start: number, method: 'GET' | 'POST', url: string, headers: Map<string, string>, body: string, tryFast = true) => {
      // A POST's JSON object parsed once, here: for the fast page, then handed to graphql-http as
      // it is (it parses only a body given as text). Any other body goes as text: graphql-http
      // answers it as before (415, unparsable, not an object, a batch refused by name).
      const data = method === 'POST' ? jsonObject(headers, body) : null;
      if (data !== null && tryFast && fastPost(res, state, start, headers, data)) return;
      const req: GqlRequest<HttpResponse, Caller> = {
        url,
        method,
        headers: { get: (k: string) => headers.get(k.toLowerCase()) ?? null } satisfies RequestHeaders,
        body: data ?? body,
        raw: res,
        context: { authorization: headers.get('authorization') ?? '', reply: null },
      };
      handler(req).then(
        ([out, init]) => {
          if (!state.aborted) {
            res.cork(() => {
              res.writeStatus(`${init.status} ${init.statusText}`);
              res.writeHeader(NO_STORE[0], NO_STORE[1]);
              res.writeHeader(NOSNIFF[0], NOSNIFF[1]);
              for (const [k, v] of Object.entries(init.headers ?? {})) res.writeHeader(k, v);
              for (const [k, v] of state.cors) res.writeHeader(k, v);
              res.end(req.context.reply ?? out ?? '');
            });
          }
          guard.done('graphql', init.status, start);
          state.end();
        },
        (err: unknown) => {
          log.warn({ err }, 'graphql request failed');
          if (!state.aborted) res.cork(() => guard.fail(res, err, state.cors));
          state.end();
        },
      );
    };

    const requestHeaders = (get: (k: string) => string, authorization: string) =>
      new Map([['accept', get('accept')], ['content-type', get('content-type')], ['authorization', authorization]]);

    /** The caller's Authorization header, or null once the refusal is written. `body`: a POST (its body must be uncompressed). */
    const admitted = (res: HttpResponse, req: HttpRequest, cors: Headers, body = false): string | null => {
      try {
        const authorization = guard.admit(req);
        if (body) requireIdentityEncoding(req);
        return authorization;
      } catch (err) {
        guard.fail(res, err, cors);
        return null;
      }
    };

    getAndHead(app, '/graphql', (res, req) => {
      const start = performance.now();
      const cors = guard.cors.of(req);
      const authorization = admitted(res, req, cors);
      if (authorization === null) return;
      const state = open(res, cors);
      const query = req.getQuery() ?? '';
      run(res, state, start, 'GET', query === '' ? '/graphql' : `/graphql?${query}`, requestHeaders((k) => req.getHeader(k), authorization), '');
    });

    app.post('/graphql', (res, req) => {
      const start = performance.now();
      const cors = guard.cors.of(req);
      const authorization = admitted(res, req, cors, true);
      if (authorization === null) return;
      const state = open(res, cors);
      const headers = requestHeaders((k) => req.getHeader(k), authorization);
      readText(
        res,
        MAX_BODY_BYTES,
        (body) => run(res, state, start, 'POST', '/graphql', headers, body),
        () => {
          if (!state.aborted) res.cork(() => guard.fail(res, new HttpError('body_too_large', `a GraphQL request body may have at most ${MAX_BODY_BYTES} bytes`), state.cors));
          state.end();
        },
        (bytes) => fastBytes(res, state, start, headers, bytes),
      );
    });

    const methodNotAllowed = JSON.stringify({ error: 'method_not_allowed', message: 'GraphQL takes POST, and GET (or HEAD) for queries and persisted queries' });
    const allowed = [['Allow', 'GET, HEAD, POST, OPTIONS'], NO_STORE] as const;
    app.any('/graphql', (res, req) => {
      writeJson(forMethod(res, req), 405, methodNotAllowed, [...guard.cors.of(req), ...allowed]);
      guard.done('graphql', 405, performance.now());
    });
  };
}
