// Reading the query API from the page: the read key as a bearer token, a deadline on every call,
// and every failure turned into an ApiError whose kind says what the page should tell a person.

/**
 * unauthorized: 401 (no key, or a key the server does not know); unavailable: 503 (draining,
 * overloaded, ClickHouse down); not_found: 404 (an endpoint this server does not have yet);
 * invalid: 400 (a parameter, named in `parameter`); network: no answer at all; server: the rest.
 */
export type ApiErrorKind = 'unauthorized' | 'unavailable' | 'not_found' | 'invalid' | 'network' | 'server';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly parameter: string | null = null,
    /** The API's own error code (`draining`, `stream_unavailable`, ...), when the body had one. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TIMEOUT_MS = 10_000;

export type Query = Record<string, string | number | null | undefined>;

export function buildPath(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs === '' ? path : `${path}?${qs}`;
}

export class Api {
  constructor(private readonly key: () => string | null) {}

  /** `parse` reads the body's text: exactjson.ts's parseExact for values the page shows as JSON. */
  async get<T>(path: string, query?: Query, parse: (text: string) => unknown = JSON.parse): Promise<T> {
    const key = this.key();
    if (key === null) throw new ApiError('unauthorized', 'no read key entered');
    let res: Response;
    try {
      res = await fetch(buildPath(path, query), {
        headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
        cache: 'no-store',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const timedOut = err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new ApiError('network', timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : 'the connection failed');
    }
    const text = await res.text().catch(() => '');
    let body: unknown = null;
    try {
      body = parse(text);
    } catch {
      // A proxy's HTML error page, say: the status still tells what happened.
    }
    if (res.ok) {
      if (body === null) throw new ApiError('server', `the answer to ${path} was not JSON`, res.status);
      return body as T;
    }
    const b = (body ?? {}) as { error?: unknown; code?: unknown; message?: unknown; parameter?: unknown };
    const message = typeof b.message === 'string' ? b.message : `HTTP ${res.status}`;
    const parameter = typeof b.parameter === 'string' ? b.parameter : null;
    const code = typeof b.error === 'string' ? b.error : typeof b.code === 'string' ? b.code : null;
    const kind: ApiErrorKind =
      res.status === 401 ? 'unauthorized' : res.status === 503 ? 'unavailable' : res.status === 404 ? 'not_found' : res.status === 400 ? 'invalid' : 'server';
    throw new ApiError(kind, message, res.status, parameter, code);
  }
}
