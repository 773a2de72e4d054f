// Why a server could not listen, in words that name the setting to change. uWebSockets.js only
// says that listen failed, so the same address is tried once with node:net, whose error code
// tells a port in use from an address this machine does not have.
import net from 'node:net';
import { ConfigError } from './errors.js';

/** What the kernel (or the resolver) said when node:net tried the same host and port. */
export function probeListen(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}

/**
 * The error for a failed listen on `host`:`port`, where `portVariable` is the setting the port
 * came from (INGEST_PORT, QUERY_PORT, SINK_PORT; unnamed in benchmarks) and HOST the one the
 * address came from.
 */
export async function listenError(host: string, port: number, variable?: string): Promise<ConfigError> {
  return errorFor(await probeListen(host, port), host, port, variable);
}

/**
 * Refuses a port another process already listens on, before uWebSockets.js binds it. uSockets
 * binds a fixed port with SO_REUSEPORT, so its listen succeeds beside any socket that set it too
 * (a second trackhouse, another uWS server, nginx's `reuseport`), and the kernel then splits new
 * connections between the two processes without a word: half the events and reads would go to
 * the other one. node:net binds without SO_REUSEPORT, so its bind fails on any listener there.
 * Only "in use" is decided here; anything else is left to the listen itself, whose address
 * resolution may differ from node:net's (`localhost`).
 */
export async function claimPort(host: string, port: number, variable?: string): Promise<void> {
  if (port === 0) return;
  const code = await probeListen(host, port);
  if (code === 'EADDRINUSE') throw errorFor(code, host, port, variable);
}

function errorFor(code: string | null, host: string, port: number, variable?: string): ConfigError {
  const details = { variable: variable ?? null, host, port, reason: code };
  const where = `could not listen on ${host}:${port}`;
  const portSetting = variable ? `${variable}=${port}` : `port ${port}`;
  const setPort = variable ? `set ${variable} to` : 'use';
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(
        `${where}: ${portSetting} is already in use on ${host}; stop the process that holds it ` +
          `(for example another trackhouse), or ${setPort} a free port (0 picks one)`,
        details,
      );
    case 'EACCES':
      return new ConfigError(
        `${where}: this user may not listen on ${portSetting}; ports below 1024 need privileges, so ${setPort} 1024 or above`,
        details,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
    case 'EINVAL':
      return new ConfigError(
        `${where}: HOST=${host} is not an address of this machine (${code}); set HOST to one of its addresses, ` +
          '127.0.0.1 for this machine only, or 0.0.0.0 for every interface',
        { ...details, variable: 'HOST' },
      );
    default:
      return new ConfigError(
        `${where}${code ? ` (${code})` : ''}: check HOST (an address of this machine, or 0.0.0.0) and ` +
          `${variable ?? 'the port'} (a free port, or 0 for any)`,
        details,
      );
  }
}
