// The all-in-one's read-only SQL port in ClickHouse's native TCP protocol (BI_NATIVE_PORT, 9000):
// what Grafana's ClickHouse plugin speaks by default, and clickhouse-go's and the Python
// clickhouse-driver's native mode. Beside the HTTP interface (./sqlport.ts), over the same engine
// gate, rules and metrics (./sqlengine.ts).
//
// - Hello: the password is a read key (any user name, or the key as the user name with none),
//   database `default` (or none); revision SERVER_REVISION or the client's, the lower.
// - Query: settings and parameters as the protocol carries them; an external table is refused
//   (the empty block that ends them is the only Data packet taken). The answer: the header (a
//   block of no rows), then each block of chDB's Native answer re-laid for the revision
//   (./native.ts), each in a Data packet (compressed when the query asks), then EndOfStream; or
//   an Exception packet. The connection then takes the next query.
// - A statement with a FORMAT clause other than Native is refused: over this protocol the client
//   formats the rows it gets.
// - With the TLS files, TLS on the same port (what ClickHouse calls the secure native port).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { claimPort } from '../common/listen-errors.js';
import { checkTlsFiles, type TlsFiles } from '../common/tls.js';
import { ClickHouseException, engineError, type EngineError } from './http-interface.js';
import { headerBlock, nativeBlocks, type NativeColumn } from './native.js';
import {
  BadPacket,
  CLIENT,
  dataPacket,
  endOfStream,
  exception,
  MIN_CLIENT_REVISION,
  NeedMore,
  PacketReader,
  pong,
  readDataIsEmpty,
  readHello,
  readQuery,
  REVISION_WITH_ADDENDUM,
  serverHello,
  SERVER_REVISION,
  type ClientQuery,
} from './nativeproto.js';
import { BUSY, type BiPort, type BiPortOptions } from './sqlengine.js';

export type NativePortOptions = BiPortOptions;
export type NativePort = BiPort;

/** A hello must come this soon after the connection opens. */
const HELLO_TIMEOUT_MS = 10_000;
/** ClickHouse's own idle_connection_timeout. */
const IDLE_TIMEOUT_MS = 3_600_000;
/** Bytes held while a packet is not whole: a statement is at most 1 MiB, so this is no client's. */
const MAX_PENDING_BYTES = 4 << 20;
/** The start of an HTTP request, which no native Hello (a zero byte first) looks like. */
const HTTP_METHOD = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;

type State = 'hello' | 'addendum' | 'ready' | 'external' | 'running' | 'closed';

function secureContext(files: TlsFiles): tls.SecureContextOptions {
  checkTlsFiles(files);
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}) };
}

export async function serveNativePort(opts: NativePortOptions): Promise<NativePort> {
  const { engine, log } = opts;
  const sockets = new Set<net.Socket>();

  const connection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(HELLO_TIMEOUT_MS, () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    let state: State = 'hello';
    let revision = 0;
    let query: ClientQuery | null = null;
    /**
     * The running statement's, aborted by a Cancel (its answer is then only EndOfStream) or the
     * connection's end: its calls still waiting for the engine are dropped.
     */
    let gone: AbortController | null = null;

    const send = (...packets: Buffer[]) => {
      if (state === 'closed') return;
      socket.cork();
      for (const p of packets) socket.write(p);
      socket.uncork();
    };
    /** An exception, then the connection closed: the client's packets can no longer be followed. */
    const fatal = (e: EngineError) => {
      send(exception(e));
      state = 'closed';
      socket.end();
    };

    const header = async (q: ClientQuery, columns: NativeColumn[], signal: AbortSignal): Promise<NativeColumn[]> => {
      if (columns.length > 0) return columns;
      // chDB writes no block for no rows; a server sends the header anyway, which tools show as
      // the columns of an empty result. A SELECT's columns come from its JSON meta.
      try {
        // Without a trailing semicolon or comment, which a subquery cannot hold (when this cuts
        // a string short, that statement fails and the answer goes without a header).
        let text = q.sql;
        for (let last = ''; last !== text; ) {
          last = text;
          text = text.replace(/\s+$/, '').replace(/;$/, '').replace(/--[^\n]*$/, '').replace(/\/\*[\s\S]*?\*\/$/, '');
        }
        const sql = `SELECT * FROM (\n${text}\n) LIMIT 0`;
        const meta = await engine.run({ sql, params: q.params, settings: q.settings, defaultFormat: 'JSONCompact', queryId: randomUUID(), signal });
        return (JSON.parse(meta.body.toString('utf8')) as { meta: NativeColumn[] }).meta.map(({ name, type }) => ({ name, type }));
      } catch {
        return [];
      }
    };

    const run = async (q: ClientQuery) => {
      const release = engine.admit();
      if (release === null) {
        send(exception(BUSY));
        return;
      }
      const { signal } = (gone = new AbortController());
      try {
        const result = await engine.run({ sql: q.sql, params: q.params, settings: q.settings, defaultFormat: 'Native', queryId: q.queryId || randomUUID(), signal });
        if (result.format.toLowerCase() !== 'native') {
          throw new ClickHouseException(48, 'NOT_IMPLEMENTED', `FORMAT ${result.format} is not served over the native protocol, whose client formats the rows itself: leave the FORMAT clause out`);
        }
        if (signal.aborted) {
          send(endOfStream());
          return;
        }
        const { blocks, columns } = nativeBlocks(result.body, revision);
        const names = await header(q, columns, signal);
        const packets = names.length > 0 ? [dataPacket(headerBlock(names, revision), q.compression)] : [];
        for (const block of blocks) packets.push(dataPacket(block, q.compression));
        packets.push(endOfStream());
        send(...packets);
      } catch (err) {
        const e = engineError(err);
        log.debug({ code: e.code, type: e.type, queryId: q.queryId }, 'native SQL port: statement not run');
        send(signal.aborted ? endOfStream() : exception(e));
      } finally {
        gone = null;
        release();
      }
    };

    /** Reads one packet from the start of `r` and acts on it. */
    const step = (r: PacketReader) => {
      if (state === 'hello') {
        if (r.varuint() !== CLIENT.Hello) throw new BadPacket('the first packet is not a Hello');
        const hello = readHello(r);
        if (hello.revision < MIN_CLIENT_REVISION) {
          return fatal({ code: 48, type: 'NOT_IMPLEMENTED', message: `client protocol ${hello.revision} is older than this server reads (${MIN_CLIENT_REVISION}, ClickHouse 20.x clients)` });
        }
        const key = hello.password !== '' ? hello.password : hello.user;
        if (!opts.readKeys.has(key)) {
          engine.unauthorized();
          return fatal({ code: 516, type: 'AUTHENTICATION_FAILED', message: `${hello.user || 'default'}: the password is not a read key of this trackhouse (TRACKHOUSE_READ_KEYS)` });
        }
        if (hello.database !== '' && hello.database !== 'default') {
          return fatal({ code: 81, type: 'UNKNOWN_DATABASE', message: `Database ${hello.database.slice(0, 100)} does not exist here: trackhouse's tables are in default` });
        }
        revision = Math.min(hello.revision, SERVER_REVISION);
        send(serverHello(engine.version, SERVER_REVISION, 'trackhouse'));
        socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
        state = revision >= REVISION_WITH_ADDENDUM ? 'addendum' : 'ready';
        return;
      }
      if (state === 'addendum') {
        r.str(1000); // quota key
        state = 'ready';
        return;
      }
      const type = r.varuint();
      if (state === 'running') {
        // Read while a statement runs: a Cancel (its answer is then only EndOfStream); anything
        // else waits until the answer is sent (handled before this is called).
        gone?.abort();
        return;
      }
      if (state === 'external') {
        if (type === CLIENT.Cancel) {
          state = 'ready';
          return;
        }
        if (type !== CLIENT.Data) throw new BadPacket(`packet ${type} where the external tables' data was due`);
        if (!readDataIsEmpty(r, query!.compression)) throw new BadPacket('external tables are not served here');
        const q = query!;
        state = 'running';
        void run(q).finally(() => {
          if (state === 'closed') return;
          state = 'ready';
          pump();
        });
        return;
      }
      switch (type) {
        case CLIENT.Ping:
          send(pong());
          return;
        case CLIENT.Query:
          query = readQuery(r, revision);
          state = 'external';
          return;
        case CLIENT.Cancel:
          return;
        default:
          throw new BadPacket(`packet ${type} out of turn`);
      }
    };

    const pump = () => {
      while (pending.length > 0 && state !== 'closed') {
        // While a statement runs only a Cancel is taken; the rest waits in `pending`.
        if (state === 'running' && pending[0] !== CLIENT.Cancel) return;
        const r = new PacketReader(pending);
        try {
          step(r);
        } catch (err) {
          if (err instanceof NeedMore) return;
          const message = err instanceof BadPacket ? err.message : (err as Error).message;
          log.debug({ err: message }, 'native SQL port: connection closed on a packet it cannot take');
          return fatal({ code: err instanceof BadPacket ? 48 : 101, type: err instanceof BadPacket ? 'NOT_IMPLEMENTED' : 'UNEXPECTED_PACKET_FROM_CLIENT', message });
        }
        pending = pending.subarray(r.at);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (state === 'hello' && HTTP_METHOD.test(pending.subarray(0, 8).toString('latin1'))) {
        // A browser or curl pointed at this port: told in HTTP where HTTP is, as ClickHouse does.
        state = 'closed';
        socket.end(
          `HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=UTF-8\r\nConnection: close\r\n\r\n` +
            `This port (${opts.portVariable}) speaks ClickHouse's native TCP protocol (clickhouse-client, clickhouse-go, Grafana's ClickHouse plugin). ` +
            'For HTTP, use the SQL port BI_PORT (8123 by default).\n',
        );
        return;
      }
      if (pending.length > MAX_PENDING_BYTES) {
        return fatal({ code: 393, type: 'QUERY_IS_TOO_LARGE', message: `a packet over ${MAX_PENDING_BYTES} bytes` });
      }
      pump();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      state = 'closed';
      gone?.abort();
      sockets.delete(socket);
    });
  };

  let files = opts.tls ?? null;
  const server = files === null ? net.createServer(connection) : tls.createServer(secureContext(files), connection);
  await claimPort(opts.host, opts.port, opts.portVariable);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After the listen, an error (out of file descriptors, say) is one connection's, not the process's.
  server.on('error', (err) => log.warn({ err: (err as Error).message }, 'native SQL port: a connection could not be taken'));
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port, tls: files !== null, revision: SERVER_REVISION }, 'read-only SQL port (ClickHouse native protocol) listening');
  return {
    port,
    secure: files !== null,
    async reloadTls() {
      if (files === null) return;
      (server as tls.Server).setSecureContext(secureContext(files));
    },
    close() {
      server.close();
      for (const s of sockets) s.destroy();
      sockets.clear();
      files = null;
    },
  };
}
