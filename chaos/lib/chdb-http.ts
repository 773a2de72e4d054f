// A chDB data dir served over the part of ClickHouse's HTTP interface that @clickhouse/client
// uses, so that several trackhouse processes (ingest, sink, query, migrate) can share one
// ClickHouse on a machine without a ClickHouse server, as they would share one in production.
// For the fault suite and the rollout only; it is no ClickHouse server (one session, no auth, no
// compression, no progress headers).
//
//   node --import tsx chaos/lib/chdb-http.ts <data dir> <port>   (prints "listening <port>")
//
// The client sends: the SQL as the body (query, command, exec) or, for an insert, the SQL in the
// `query` URL parameter and the rows as the body; `param_<name>` for each query parameter, in
// ClickHouse's text form (a top-level string TSV-escaped, composite values as SQL literals);
// every other URL parameter is a setting. Errors go back as ClickHouse's do: a 500 whose body is
// `Code: N. DB::Exception: ...`, which the client parses into a ClickHouseError.
import http from 'node:http';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);

interface ExecResult {
  stream: NodeJS.ReadableStream;
  summary?: Record<string, string>;
}
interface ChdbConnection {
  exec(p: { query: string; values?: string; query_params?: Record<string, unknown>; clickhouse_settings?: Record<string, unknown> }): Promise<ExecResult>;
  close(): Promise<void>;
}

const NOT_SETTINGS = new Set(['query', 'query_id', 'database', 'session_id', 'session_timeout', 'session_check', 'role', 'user', 'password', 'compress', 'decompress']);

/** Undoes the client's TSV escaping of a top-level string; chDB's binder escapes it again. */
function tsvUnescape(s: string): string {
  if (!s.includes('\\')) return s;
  const map: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0', "'": "'", N: '\\N' };
  return s.replace(/\\(.)/g, (_, c: string) => map[c] ?? c);
}

export interface ChdbHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function serveChdb(dir: string, port: number, host = '127.0.0.1'): Promise<ChdbHttpServer> {
  const { createChdbConnection } = require('chdb/connection') as { createChdbConnection(o: { path: string }): ChdbConnection };
  const conn = createChdbConnection({ path: dir });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/ping') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n');
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const params = url.searchParams;
        const inUrl = params.get('query');
        const query = inUrl ?? body.toString('utf8');
        const values = inUrl !== null && body.length > 0 ? body.toString('utf8') : undefined;
        const query_params: Record<string, unknown> = {};
        const clickhouse_settings: Record<string, unknown> = {};
        for (const [k, v] of params) {
          if (k.startsWith('param_')) query_params[k.slice(6)] = /^[[({]/.test(v) ? v : tsvUnescape(v);
          else if (!NOT_SETTINGS.has(k)) clickhouse_settings[k] = v;
        }
        try {
          const r = await conn.exec({ query, values, query_params, clickhouse_settings });
          res.writeHead(200, {
            'content-type': 'text/plain; charset=UTF-8',
            'x-clickhouse-query-id': params.get('query_id') ?? '',
            'x-clickhouse-summary': JSON.stringify(r.summary ?? {}),
          });
          r.stream.pipe(res);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          const code = /Code: (\d+)/.exec(message)?.[1] ?? '1002';
          res.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': code });
          res.end(/^Code: \d+/.test(message) ? message : `Code: ${code}. DB::Exception: ${message}`);
        }
      })();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await conn.close();
    },
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [dir, port] = process.argv.slice(2);
  if (!dir || port === undefined) {
    process.stderr.write('usage: chdb-http.ts <data dir> <port>\n');
    process.exit(2);
  }
  const srv = await serveChdb(dir, Number(port));
  process.stdout.write(`listening ${srv.port}\n`);
  const stop = () => void srv.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
