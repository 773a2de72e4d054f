// The admin routes on the query port, behind an admin key (TRACKHOUSE_ADMIN_KEYS, whose name is
// the actor in the audit trail):
//   POST /v1/regulations        {"type":"delete"|"suppress"|"suppress_with_delete","user_ids":[...]}
//                               -> 202 (deletion running) or 201 (suppress: done) {"id",...}
//   GET  /v1/regulations/{id}   -> its status and counts
//   POST /regulations, GET /regulations/{regulateId}: the same in Segment's Public API shape (./bodies.ts)
//   GET  /v1/audit?from=&to=&action=&limit=   -> {"records":[...]}, newest first
// Nothing here changes or deletes audit records: the trail has no write API.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ClickHouseClient } from '@clickhouse/client';
import { AUDIT_ACTIONS, readAudit, type AuditCopier } from '../audit/index.js';
import { HttpError, InvalidParameterError } from '../common/errors.js';
import { bearerToken, forMethod, getAndHead, httpErrorReply, NO_STORE, readText, requireIdentityEncoding, writeJson, type Headers, type HttpErrorReply } from '../common/http.js';
import { parseIsoTime, typedTime, type IsoTimeProblem } from '../common/isotime.js';
import { settledWithin } from '../common/wait.js';
import type { ErasureList, Regulation } from '../erasure/index.js';
import { readQuery } from '../common/querystring.js';
import type { QueryRoutes } from '../query/index.js';
import { parseRegulationBody, parseSegmentRegulation, regulationReply, segmentCreatedReply, segmentErrorBody, segmentRegulationReply, type RegulationRequest } from './bodies.js';
import type { RegulationExecutor } from './executor.js';

/** The body of an error answer from the API's (Segment's routes add its envelope). */
type ErrorBody = (reply: HttpErrorReply) => string;

const MAX_BODY_BYTES = 1024 * 1024;
const AUDIT_PARAMS = new Set(['from', 'to', 'action', 'limit']);
/** GET /v1/audit waits at most this long for the copy of the topic to catch up. */
const AUDIT_FRESH_MS = 2_000;

/** No bearer admin key, or a key that is not one. */
export class AdminUnauthorizedError extends HttpError {
  constructor(readonly reason: 'missing' | 'invalid') {
    super('unauthorized', reason === 'missing' ? 'an admin key is required: Authorization: Bearer <admin key> (TRACKHOUSE_ADMIN_KEYS)' : 'not an admin key', {
      details: { reason },
    });
  }
}

export interface AdminDeps {
  executor: RegulationExecutor;
  list: ErasureList;
  clickhouse: ClickHouseClient;
  copier: AuditCopier | null;
}

export interface AdminRoutesOptions {
  adminKeys: ReadonlyMap<string, string>;
  /** QUERY_TIMEOUT_MS: GET /v1/audit's ClickHouse read, its wait for the engine included, or 503. */
  timeoutMs: number;
  /** Null until the erasure list is loaded (the routes answer 503 until then). */
  deps: () => AdminDeps | null;
}

/** The admin key's name (the actor), or throws. */
export function adminName(adminKeys: ReadonlyMap<string, string>, header: string): string {
  if (header === '') throw new AdminUnauthorizedError('missing');
  const token = bearerToken(header);
  if (token === null) throw new AdminUnauthorizedError('missing');
  const name = adminKeys.get(token);
  if (name === undefined) throw new AdminUnauthorizedError('invalid');
  return name;
}

const ANY_TIME = typedTime(null);
function time(name: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  const why: IsoTimeProblem = { reason: '' };
  const t = parseIsoTime(value, ANY_TIME, why);
  if (Number.isNaN(t)) throw new InvalidParameterError(name, `${name}: ${why.reason}`);
  return t;
}

/** A path segment percent-decoded, or a 400 naming the path parameter. */
function pathId(raw: string, param: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidParameterError(param, `${param} is not valid percent-encoded UTF-8`);
  }
}

export function parseAuditQuery(query: string): { from: number | null; to: number | null; action: string | null; limit: number } {
  const q = readQuery(query, AUDIT_PARAMS);
  const from = time('from', q.get('from'));
  const to = time('to', q.get('to'));
  if (from !== null && to !== null && from >= to) throw new InvalidParameterError('from', 'from must be earlier than to (from is inclusive, to exclusive)');
  const action = q.get('action') ?? null;
  if (action !== null && !(AUDIT_ACTIONS as readonly string[]).includes(action)) throw new InvalidParameterError('action', `action must be one of ${AUDIT_ACTIONS.join(', ')}`);
  const limitText = q.get('limit');
  const limit = limitText === undefined ? 1000 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidParameterError('limit', 'limit must be an integer from 1 to 10000');
  return { from, to, action, limit };
}

export function adminRoutes(o: AdminRoutesOptions): QueryRoutes {
  return (app, guard) => {
    const send = (res: HttpResponse, status: number, body: unknown, start: number, cors: Headers) => {
      writeJson(res, status, JSON.stringify(body), [...cors, NO_STORE]);
      guard.done('other', status, start);
    };
    const admit = (req: HttpRequest): [string, AdminDeps] => {
      if (guard.draining()) guard.admit(req); // throws the API's draining error
      const name = adminName(o.adminKeys, req.getHeader('authorization'));
      const deps = o.deps();
      if (deps === null) throw new HttpError('kafka_unavailable', 'the erasure list is still loading from Kafka; retry shortly');
      return [name, deps];
    };
    const later = (res: HttpResponse, start: number, cors: Headers, work: () => Promise<[number, unknown]>) => {
      const state = { aborted: false };
      res.onAborted(() => (state.aborted = true));
      work().then(
        ([status, body]) => {
          if (!state.aborted) res.cork(() => send(res, status, body, start, cors));
        },
        (err: unknown) => {
          if (!state.aborted) res.cork(() => guard.fail(res, err, cors));
        },
      );
    };

    /** Each path's 405 (its methods, its errors' body), registered after every route of the port. */
    const notAllowed: { path: string; post: boolean; errorBody?: ErrorBody }[] = [];

    /** POST `path`: a regulation request read by `parse`, carried out, answered by `reply` (errors' bodies by `errorBody`). */
    const postRegulation = (path: string, parse: (text: string) => RegulationRequest, reply: (r: Regulation) => [number, unknown], errorBody?: ErrorBody) => {
      notAllowed.push({ path, post: true, errorBody });
      const fail = (res: HttpResponse, err: unknown, cors: Headers) => guard.fail(res, err, cors, errorBody);
      app.post(path, (res, req) => {
        const start = performance.now();
        const cors = guard.cors.of(req);
        let actor: string;
        let deps: AdminDeps;
        try {
          [actor, deps] = admit(req);
          requireIdentityEncoding(req);
        } catch (err) {
          fail(res, err, cors);
          return;
        }
        // In flight until answered: a stop waits for it (the request may already be in Kafka).
        const state = { aborted: false, end: guard.begin() };
        res.onAborted(() => {
          state.aborted = true;
          state.end();
        });
        readText(
          res,
          MAX_BODY_BYTES,
          (text) => {
            let parsed: RegulationRequest;
            try {
              parsed = parse(text);
            } catch (err) {
              if (!state.aborted) res.cork(() => fail(res, err, cors));
              state.end();
              return;
            }
            deps.executor
              .submit(parsed.type, parsed.userIds, actor)
              .then(
                (r) => {
                  if (!state.aborted) res.cork(() => send(res, ...reply(r), start, cors));
                },
                (err: unknown) => {
                  if (!state.aborted) res.cork(() => fail(res, new HttpError('kafka_unavailable', 'the regulation could not be recorded in Kafka; retry shortly', { cause: err }), cors));
                },
              )
              .finally(state.end);
          },
          () => {
            if (!state.aborted) res.cork(() => fail(res, new HttpError('body_too_large', `a regulation request may have at most ${MAX_BODY_BYTES} bytes`), cors));
            state.end();
          },
        );
      });
    };
    /** GET (and HEAD) `path`: the regulation its id (the path parameter `param`) names, answered by `reply` (errors' bodies by `errorBody`). */
    const getRegulation = (path: string, param: string, reply: (r: Regulation) => unknown, errorBody?: ErrorBody) => {
      notAllowed.push({ path, post: false, errorBody });
      getAndHead(app, path, (res, req) => {
        const start = performance.now();
        const cors = guard.cors.of(req);
        try {
          const [, deps] = admit(req);
          const id = pathId(req.getParameter(0) ?? '', param);
          const r = deps.list.regulations.get(id);
          if (r === undefined) throw new HttpError('not_found', `no regulation ${JSON.stringify(id.slice(0, 100))}`);
          send(res, 200, reply(r), start, cors);
        } catch (err) {
          guard.fail(res, err, cors, errorBody);
        }
      });
    };

    postRegulation('/v1/regulations', parseRegulationBody, (r) => [r.status === 'finished' ? 201 : 202, regulationReply(r)]);
    getRegulation('/v1/regulations/:id', 'id', regulationReply);
    // Segment answers a created regulation 200, whatever its state.
    postRegulation('/regulations', parseSegmentRegulation, (r) => [200, segmentCreatedReply(r)], segmentErrorBody);
    getRegulation('/regulations/:regulateId', 'regulateId', segmentRegulationReply, segmentErrorBody);

    notAllowed.push({ path: '/v1/audit', post: false });
    getAndHead(app, '/v1/audit', (res, req) => {
      const start = performance.now();
      const cors = guard.cors.of(req);
      try {
        const [, deps] = admit(req);
        const q = parseAuditQuery(req.getQuery() ?? '');
        later(res, start, cors, async () => {
          // What was written a moment ago should be there: wait (a little) for the copy.
          if (deps.copier !== null) await settledWithin(deps.copier.caughtUp(), AUDIT_FRESH_MS);
          return [200, { records: await readAudit(deps.clickhouse, q, o.timeoutMs) }];
        });
      } catch (err) {
        guard.fail(res, err, cors);
      }
    });

    for (const { path, post, errorBody } of notAllowed) {
      const reply = httpErrorReply(new HttpError('method_not_allowed', post ? 'only POST is supported here' : 'only GET and HEAD are supported here'));
      const body = errorBody ? errorBody(reply) : reply.body;
      app.any(path, (res, req) => {
        writeJson(forMethod(res, req), 405, body, [...guard.cors.of(req), NO_STORE, ['Allow', post ? 'POST, OPTIONS' : 'GET, HEAD, OPTIONS']]);
        guard.done('other', 405, performance.now());
      });
    }
  };
}
