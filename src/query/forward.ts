// A page request for a user another shard holds, as it goes to that shard. Its path is made again
// from the user key, not copied from the request: a client may have sent the id unencoded (UTF-8,
// `+`, `\`) or as a dot segment (curl --path-as-is and Go send `/v1/users/../events` as written),
// and the shard must read the same id. And it is sent as written, through node:http, not fetch:
// a URL parser (fetch's) resolves a segment `.` or `..` away, escaped as `%2E` or not, and reads
// `\` as `/` in an http URL, so users `.`, `..` and `back\slash` got another shard's 404 (REST)
// or shard_unavailable (GraphQL) through the shard that does not hold them.
import http from 'node:http';
import https from 'node:https';
import { wellFormed } from '../common/querystring.js';

/**
 * The path segment of a user id: encodeURIComponent's, and the dots of a dot segment (`.`, `..`)
 * escaped too, which parseEventsRequest decodes back (a proxy between the shards that resolves
 * dot segments leaves `%2E` alone more often than `.`).
 */
export function userSegment(userKey: string): string {
  const s = encodeURIComponent(wellFormed(userKey));
  return s === '.' || s === '..' ? s.replaceAll('.', '%2E') : s;
}

/** Not ASCII, or not printable: what a request line cannot carry as it is. */
const UNSENDABLE = /[^\x21-\x7e]+/g;

/**
 * A query string as received (uWS gives it decoded from UTF-8, so it may hold characters a client
 * sent unencoded) made sendable again: those characters percent-encoded as UTF-8, the rest as it is,
 * so the shard decodes the same parameters.
 */
export function sendableQuery(query: string): string {
  return query.replace(UNSENDABLE, (s) => encodeURIComponent(wellFormed(s)));
}

/** `/v1/users/<userSegment>/events`, with `?query` (sendableQuery's) when there is one. */
export function shardEventsPath(userKey: string, query: string): string {
  return `/v1/users/${userSegment(userKey)}/events${query === '' ? '' : `?${sendableQuery(query)}`}`;
}

export interface ShardAnswer {
  status: number;
  body: Buffer;
  /** Header values by lower-case name. */
  headers: http.IncomingHttpHeaders;
}

/**
 * GET of `path` (already percent-encoded, ASCII) on the replica at `base` (QUERY_SHARD_URL with its
 * {i} filled in; a path it has is a prefix), the path sent byte for byte as given. Rejects when the
 * replica cannot be reached, or has not answered in full within `timeoutMs`.
 */
export function getFromShard(base: string, path: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<ShardAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(base);
    } catch (err) {
      reject(err as Error);
      return;
    }
    const prefix = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    const get = url.protocol === 'https:' ? https.get : http.get;
    const req = get(
      {
        protocol: url.protocol,
        // An IPv6 literal is [::1] in a URL, ::1 to the socket.
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port,
        path: prefix + path,
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}
