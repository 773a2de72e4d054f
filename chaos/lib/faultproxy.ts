// A TCP proxy on loopback between trackhouse and a dependency (the ClickHouse HTTP endpoint), whose
// mode the suite switches to make that dependency misbehave as a network or a server does:
//
//   pass   bytes flow both ways
//   hang   new connections are accepted and nothing flows on any connection: the server "stops
//          answering" (what a client sees when a server hangs or a network drops packets);
//          bytes held meanwhile flow again on `pass`
//   slow   every chunk from the server is held `delayMs` before the client gets it
import net from 'node:net';

export type ProxyMode = { kind: 'pass' } | { kind: 'hang' } | { kind: 'slow'; delayMs: number };

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export class FaultProxy {
  private mode: ProxyMode = { kind: 'pass' };
  private readonly pairs = new Set<Pair>();
  private server: net.Server | null = null;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(port = 0): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    const hold = mode.kind === 'hang';
    for (const p of this.pairs) {
      if (hold) {
        p.client.pause();
        p.upstream.pause();
      } else {
        p.client.resume();
        p.upstream.resume();
      }
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise((r) => this.server?.close(r) ?? r(undefined));
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.target);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    if (this.mode.kind === 'hang') {
      client.pause();
      upstream.pause();
    }
    client.on('data', (d: Buffer) => upstream.write(d));
    // Server-to-client chunks keep their order: each waits for the one before it.
    let chain = Promise.resolve();
    upstream.on('data', (d: Buffer) => {
      const mode = this.mode;
      if (mode.kind !== 'slow') {
        chain = chain.then(() => void client.write(d));
        return;
      }
      chain = chain.then(() => new Promise<void>((r) => setTimeout(() => (client.write(d), r()), mode.delayMs)));
    });
  }
}
