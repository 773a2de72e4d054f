// The executable schema: the SDL of ./sdl.ts with resolvers that call the query API's own reads
// (QueryReader: the REST routes' code path: the view, ClickHouse beyond its horizon, the shard
// holding the user) and the stream's, and turn their REST reply bodies into GraphQL objects.
// Validation is REST's too (parseEventsRequest and friends get the arguments as a query string), so
// both APIs accept, refuse and page alike.
import { buildSchema, GraphQLError, GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { DependencyError, HttpError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { cursorsOf, dependencyMessage, parseEventsRequest, parseRollupsRequest, userSegment, type EventsRequest, type QueryReader } from '../query/index.js';
import type { StreamRoute } from '../stream/index.js';
import { parseExact } from './exactjson.js';
import { SDL } from './sdl.js';
import type { EventReply } from '../schema/index.js';

/** Where the stream's answers come from; null when this process hosts no stream component. */
export interface StreamSource {
  /** The REST body of GET /v1/volume or /v1/alerts for a query string (answered by the stream's own thread); rejects with the API's HttpError. */
  answer(route: StreamRoute, query: string): Promise<string>;
}

export interface SchemaSources {
  reader: QueryReader;
  stream: StreamSource | null;
  log: Logger;
}

/** A REST event as its reply JSON has it (snake_case). */
/** An Event as GraphQL names its fields: one object literal per event, so default resolvers read plain properties. */
function node(e: EventReply) {
  return {
    eventId: e.event_id,
    type: e.type,
    event: e.event,
    userId: e.user_id,
    anonymousId: e.anonymous_id,
    timestamp: e.timestamp,
    receivedAt: e.received_at,
    source: e.source,
    category: e.category,
    groupId: e.group_id,
    properties: e.properties,
    traits: e.traits,
    context: e.context,
    name: e.name,
    previousId: e.previous_id,
  };
}
type Node = ReturnType<typeof node>;

interface Edge {
  node: Node;
  cursorOf: (ts: number, id: string) => string;
}

/** REST parameter names as GraphQL's arguments call them. */
const ARGUMENT_OF: Record<string, string> = { userId: 'id', limit: 'first', cursor: 'after' };

/** An error as a GraphQL error with the REST API's code (`extensions.code`); internal ones masked. */
export function graphqlError(err: unknown, log: Logger): GraphQLError {
  if (err instanceof GraphQLError) return err;
  if (err instanceof HttpError) {
    const details = (err as HttpError & { details?: Record<string, unknown> }).details;
    const parameter = typeof details?.parameter === 'string' ? details.parameter : undefined;
    if (parameter !== undefined) {
      const argument = ARGUMENT_OF[parameter] ?? parameter;
      const message = argument === parameter ? err.message : err.message.replace(new RegExp(`^${parameter}\\b`), argument);
      return new GraphQLError(message, { extensions: { code: err.code, argument } });
    }
    return new GraphQLError(err.message, { extensions: { code: err.code, retriable: err.retriable } });
  }
  if (err instanceof DependencyError) {
    return new GraphQLError(dependencyMessage(err), { extensions: { code: 'clickhouse_unavailable', retriable: true } });
  }
  log.warn({ err }, 'graphql resolver failed');
  return new GraphQLError('internal error', { extensions: { code: 'internal_error' } });
}

/** `{ name: value }` as a query string, leaving out null and undefined (REST's "left out"). */
export function queryString(params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) q.set(k, String(v));
  return q.toString();
}

/**
 * A request's context as the resolvers read it: the caller's Authorization header, and where the
 * answer's integers past 2^53 are kept (./exactjson.ts: the server writes them back into the
 * answer; without it they are read as JSON.parse reads them).
 */
export interface ResolverContext {
  authorization: string;
  digits?: string[];
}

/** A REST page body as a connection. */
function connection(body: Buffer, r: EventsRequest, context: ResolverContext) {
  // Parsed at once: a page from the view is the view reader's reused buffer.
  const text = body.toString('utf8');
  const page = (context.digits === undefined ? JSON.parse(text) : parseExact(text, context.digits)) as { events: EventReply[]; next_cursor: string | null };
  const cursorOf = cursorsOf(r);
  const edges: Edge[] = new Array(page.events.length);
  for (let i = 0; i < edges.length; i++) edges[i] = { node: node(page.events[i]!), cursorOf };
  return {
    edges,
    pageInfo: {
      hasNextPage: page.next_cursor !== null,
      hasPreviousPage: false,
      startCursor: edges.length > 0 ? () => edgeCursor(edges[0]!) : null,
      // With a next page, the last edge's cursor is next_cursor itself.
      endCursor: page.next_cursor ?? (edges.length > 0 ? () => edgeCursor(edges[edges.length - 1]!) : null),
    },
  };
}

function edgeCursor(e: Edge): string {
  return e.cursorOf(Date.parse(e.node.timestamp), e.node.eventId);
}

/** Types answered with REST's JSON as it is: a camelCase field reads its snake_case property. */
const SNAKE_CASE_TYPES = ['Volume', 'VolumeRow', 'Alerts', 'AlertRule', 'AlertingGroup', 'AlertNotification'];

/** A value or, for one that costs work to make (a cursor), a function that makes it when asked for. */
const lazy = (v: unknown) => (typeof v === 'function' ? (v as () => unknown)() : v);

export function buildGraphqlSchema(sources: SchemaSources): GraphQLSchema {
  const { reader, log } = sources;
  const schema = buildSchema(SDL);
  const fields = (type: string) => (schema.getType(type) as GraphQLObjectType).getFields();

  const streamAnswer = async (route: StreamRoute, query: string): Promise<unknown> => {
    try {
      if (sources.stream === null) throw new HttpError('stream_unavailable', 'the stream component does not run in this process (QUERY_STREAM=off): live volume and alerts are served by `trackhouse alerts`');
      return JSON.parse(await sources.stream.answer(route, query)) as unknown;
    } catch (err) {
      throw graphqlError(err, log);
    }
  };

  fields('Query').user!.resolve = (_s, args: { id: string }) => ({ id: args.id });

  fields('User').events!.resolve = (
    user: { id: string },
    a: { from?: string; to?: string; type?: string; event?: string; first?: number; after?: string },
    context: ResolverContext,
  ) => {
    let r: EventsRequest;
    let body: Buffer | Promise<Buffer>;
    try {
      const q = queryString({ from: a.from, to: a.to, type: a.type, event: a.event, limit: a.first, cursor: a.after });
      // The id as a path segment, as a forwarded page carries it (a lone surrogate made U+FFFD, as
      // the ingest stored it: encodeURIComponent throws on one, which answered "internal error").
      r = parseEventsRequest(userSegment(user.id), q, reader.limits);
      body = reader.events(r, { query: q, authorization: context.authorization });
    } catch (err) {
      throw graphqlError(err, log);
    }
    // A page from the view is answered within this call, like REST's: no promise, execution stays synchronous.
    if (!(body instanceof Promise)) return connection(body, r, context);
    return body.then(
      (b) => connection(b, r, context),
      (err: unknown) => {
        throw graphqlError(err, log);
      },
    );
  };

  fields('EventEdge').cursor!.resolve = (edge: Edge) => edgeCursor(edge);
  fields('PageInfo').startCursor!.resolve = (p: { startCursor: unknown }) => lazy(p.startCursor);
  fields('PageInfo').endCursor!.resolve = (p: { endCursor: unknown }) => lazy(p.endCursor);
  for (const type of SNAKE_CASE_TYPES) {
    for (const f of Object.values(fields(type))) {
      const prop = f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      if (prop !== f.name) f.resolve = (src: Record<string, unknown>) => src[prop];
    }
  }

  fields('Query').rollups!.resolve = async (_s, a: { by: string; from?: string; to?: string; source?: string }) => {
    try {
      const body = await reader.rollups(parseRollupsRequest(queryString({ by: a.by, from: a.from, to: a.to, source: a.source })));
      return (JSON.parse(body.toString('utf8')) as { rows: unknown[] }).rows;
    } catch (err) {
      throw graphqlError(err, log);
    }
  };

  fields('Query').volume!.resolve = (_s, a: Record<string, unknown>) => streamAnswer('volume', queryString(a));

  fields('Query').alerts!.resolve = (_s, a: { rule?: string }) => streamAnswer('alerts', queryString({ rule: a.rule }));
  return schema;
}
