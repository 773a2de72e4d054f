// ClickHouse's HTTP interface in front of an in-process chDB, for tests and benchmarks of the
// split deployment: no ClickHouse server can be installed on these machines and chDB opens a data
// dir from one process only, so the process that owns chDB (the sink's) serves it, and a separate
// `trackhouse query` reaches it through CLICKHOUSE_URL exactly as it would reach a server.
//
// Enough of the interface for @clickhouse/client (query, command, exec, insert, ping):
// - POST / with the query text as the body, or the query in `query=` and the data as the body;
// - `param_<name>` query parameters (ClickHouse's escaped text form), settings as URL parameters,
//   `default_format`; query_id, database, session_id and role are accepted and ignored;
// - the result in the format the query names, X-ClickHouse-Query-Id and X-ClickHouse-Summary;
// - errors as ClickHouse sends them: a non-200 status, X-ClickHouse-Exception-Code, and the body
//   `Code: N. DB::Exception: ... (NAME)`, which the client turns into a ClickHouseError;
// - GET /ping -> `Ok.`.
// Not supported (the project never uses them): multipart parameters, compressed bodies, sessions.
// Parameters reach chDB through its binder, which re-escapes strings; that round trip is exact for
// top-level values, not for strings with quotes inside an Array parameter.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { engineError, errorBody, paramsAndSettings, statusOf } from '../../src/warehouse/http-interface.js';

export interface ClickHouseHttp {
  readonly url: string;
  readonly port: number;
  /** Requests answered so far (a test can tell the query process really asked). */
  readonly requests: number;
  /** Statements the gate holds now. */
  readonly gated: number;
  close(): Promise<void>;
}

const SUMMARY = JSON.stringify({ read_rows: '0', read_bytes: '0', written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0', elapsed_ns: '0' });

/**
 * Holds the statements that match `match` until `count` of them wait (or `timeoutMs` passed since
 * the first), then runs them all: a test's way to make concurrent clients reach one statement at
 * the same moment, whatever their start-up times.
 */
export interface StatementGate {
  match: RegExp;
  count: number;
  timeoutMs: number;
}

function gated(gate: StatementGate | undefined): { pass(query: string): Promise<void>; held(): number } {
  if (gate === undefined) return { pass: async () => {}, held: () => 0 };
  let waiting: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  const open = () => {
    clearTimeout(timer);
    timer = undefined;
    const released = waiting;
    waiting = [];
    for (const release of released) release();
  };
  return {
    pass: (query) => {
      if (!gate.match.test(query)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length >= gate.count) open();
        else timer ??= setTimeout(open, gate.timeoutMs);
      });
    },
    held: () => waiting.length,
  };
}

export async function serveClickHouseHttp(client: ClickHouseClient, opts: { host?: string; port?: number; gate?: StatementGate } = {}): Promise<ClickHouseHttp> {
  let requests = 0;
  const gate = gated(opts.gate);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const url = new URL(req.url ?? '/', 'http://clickhouse');
      if (url.pathname === '/ping') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
        return;
      }
      const body = Buffer.concat(chunks);
      const { params, settings } = paramsAndSettings(url.searchParams);
      // chDB's connection takes the default format as this setting.
      const defaultFormat = url.searchParams.get('default_format');
      if (defaultFormat !== null) settings.default_format = defaultFormat;
      const inUrl = url.searchParams.get('query');
      const query = inUrl ?? body.toString('utf8');
      const queryId = url.searchParams.get('query_id') ?? crypto.randomUUID();
      void (async () => {
        try {
          await gate.pass(query);
          const result = await client.exec({
            query,
            query_params: params,
            clickhouse_settings: settings,
            ...(inUrl !== null && body.length > 0 ? { values: Readable.from([body]) } : {}),
          });
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Query-Id': queryId, 'X-ClickHouse-Summary': SUMMARY });
          for await (const chunk of result.stream) res.write(chunk as Buffer);
          res.end();
        } catch (err) {
          const e = engineError(err);
          if (res.headersSent) {
            res.destroy();
            return;
          }
          res
            .writeHead(statusOf(e.code), { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(e.code), 'X-ClickHouse-Query-Id': queryId })
            .end(errorBody(e, '24.8.1.1 (chDB)'));
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    get requests() {
      return requests;
    },
    get gated() {
      return gate.held();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
