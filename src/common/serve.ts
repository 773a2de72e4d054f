// Serves a set of routes over HTTP, HTTPS or both (the ingest edge and the query API), and swaps
// the certificate on reload without dropping a connection.
//
//   no TLS files                 port: HTTP
//   TLS files, no TLS port       port: HTTPS
//   TLS files and a TLS port     port: HTTP, tlsPort: HTTPS
//
// Reload: uWebSockets.js cannot change the certificate of a running SSLApp (its SNI server names
// cover only clients that send a name; clients that dial an IP address send none and get the
// app's own certificate). So a reload builds a new SSLApp with the new files and the same routes,
// listens on the same port beside the old one (uSockets sets SO_REUSEPORT), then closes the old
// app's listening socket: new connections reach the new certificate, and the connections the old
// app holds stay open and keep being served by it (its routes share the server's state). Retired
// apps are closed at stop. SO_REUSEPORT is set only on a fixed port, so a TLS port asked as 0 is
// turned into a free port first.
import net from 'node:net';
import type { TemplatedApp } from 'uWebSockets.js';
import { ConfigError } from './errors.js';
import { listen, type Listening } from './http.js';
import { checkTlsFiles, sslAppOptions, type TlsFiles } from './tls.js';
import { loadUws } from './uws.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** The setting `port` came from (INGEST_PORT, QUERY_PORT), for errors. */
  portVariable: string;
  /** Certificate files, or null for plain HTTP only. */
  tls: TlsFiles | null;
  /** A port of its own for HTTPS (then `port` stays plain HTTP); null: `port` speaks HTTPS. */
  tlsPort: number | null;
  /** The setting `tlsPort` came from (INGEST_TLS_PORT, QUERY_TLS_PORT). */
  tlsPortVariable: string;
  /** Adds every route to an app; called for each app (each port, each certificate), `secure` for HTTPS ones. */
  routes(app: TemplatedApp, secure: boolean): void;
  log?: { info(obj: object, msg: string): void };
  /**
   * The ports were claimed by the caller and are bound by several apps of this process on
   * purpose (the ingest's edge threads): skip the check that no other process listens there.
   */
  portsClaimed?: boolean;
}

export interface Serving {
  /** The port of `port` (HTTPS when TLS files are set and no TLS port is). */
  readonly port: number;
  /** The HTTPS port when it is one of its own, else null. */
  readonly tlsPort: number | null;
  /** True when `port` speaks HTTPS. */
  readonly secure: boolean;
  /**
   * Loads the certificate files again and serves them to new connections; open connections stay.
   * Throws a ConfigError (naming the setting) when the files do not load: the old ones stay in use.
   */
  reloadTls(): Promise<void>;
  /** Stops accepting new connections; open ones stay until closeAll(). */
  close(): void;
  /** Closes every remaining connection, on every app this server ever had. */
  closeAll(): void;
}

export async function serve(opts: ServeOptions): Promise<Serving> {
  const uws = loadUws(opts.log);
  if (opts.tls === null) {
    const app = uws.App();
    opts.routes(app, false);
    const l = await listen(app, opts.host, opts.port, opts.portVariable, opts.portsClaimed);
    return {
      port: l.port,
      tlsPort: null,
      secure: false,
      reloadTls: () => Promise.resolve(),
      close: () => l.close(),
      closeAll: () => l.closeAll(),
    };
  }
  const files = opts.tls;
  const separate = opts.tlsPort !== null;
  let plain: Listening | null = null;
  if (separate) {
    const app = uws.App();
    opts.routes(app, false);
    plain = await listen(app, opts.host, opts.port, opts.portVariable, opts.portsClaimed);
  }
  const secureVariable = separate ? opts.tlsPortVariable : opts.portVariable;
  let secure: TlsListener;
  try {
    const port = (separate ? opts.tlsPort! : opts.port) || (await freePort(opts.host));
    secure = await TlsListener.start(opts, files, port, secureVariable);
  } catch (err) {
    plain?.closeAll();
    throw err;
  }
  return {
    port: plain?.port ?? secure.port,
    tlsPort: plain ? secure.port : null,
    secure: !separate,
    reloadTls: () => secure.reload(),
    close: () => {
      plain?.close();
      secure.close();
    },
    closeAll: () => {
      plain?.closeAll();
      secure.closeAll();
    },
  };
}

/** One HTTPS port: the app serving the current certificate, and the apps it replaced. */
class TlsListener {
  private retired: Listening[] = [];
  private reloading: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly opts: ServeOptions,
    private readonly files: TlsFiles,
    readonly port: number,
    private readonly portVariable: string,
    private current: Listening,
  ) {}

  static async start(opts: ServeOptions, files: TlsFiles, port: number, portVariable: string): Promise<TlsListener> {
    return new TlsListener(opts, files, port, portVariable, await TlsListener.open(opts, files, port, portVariable, opts.portsClaimed ?? false));
  }

  /** `shared`: bind beside a listener of this process (a reload, or edge threads) without claiming the port. */
  private static async open(opts: ServeOptions, files: TlsFiles, port: number, portVariable: string, shared: boolean): Promise<Listening> {
    checkTlsFiles(files);
    let app: TemplatedApp;
    try {
      app = loadUws().SSLApp(sslAppOptions(files));
    } catch (err) {
      // Node's OpenSSL loaded the files above; uSockets' may still refuse what it does not support.
      throw new ConfigError(`TLS_CERT_FILE, TLS_KEY_FILE: uWebSockets.js could not load ${files.certFile} and ${files.keyFile} (${(err as Error).message})`, {
        variable: 'TLS_CERT_FILE',
      });
    }
    opts.routes(app, true);
    return listen(app, opts.host, port, portVariable, shared);
  }

  /** One reload at a time; a second SIGHUP during one waits for it and then loads again. */
  reload(): Promise<void> {
    const run = async () => {
      if (this.closed) return;
      const next = await TlsListener.open(this.opts, this.files, this.port, this.portVariable, true);
      if (this.closed) {
        next.closeAll();
        return;
      }
      // Both listen now; from here the kernel gives new connections to `next` only.
      this.current.close();
      this.retired.push(this.current);
      this.current = next;
      this.opts.log?.info({ port: this.port, cert: this.files.certFile, retiredApps: this.retired.length }, 'TLS certificate reloaded');
    };
    const p = (this.reloading ?? Promise.resolve()).then(run, run);
    this.reloading = p.catch(() => {});
    return p;
  }

  close(): void {
    this.closed = true;
    this.current.close();
  }

  closeAll(): void {
    this.closed = true;
    this.current.closeAll();
    for (const l of this.retired) l.closeAll();
    this.retired = [];
  }
}

/** A port free on `host` right now (the kernel's pick for port 0). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
