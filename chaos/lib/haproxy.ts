// HAProxy (Debian's package) on loopback in front of several ingest and query processes, as a
// load balancer in front of pods. Health checks ask /readyz every `interMs`; a server is taken
// out after `fall` failed checks and put back after `rise` good ones. The drain delay of the
// processes behind it (SHUTDOWN_DRAIN_DELAY_MS) must outlast the time HAProxy needs to notice a
// 503 (about (fall + 1) x inter, one interval of phase included), or requests still reach a
// process whose port has closed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProc, type Proc } from './procs.js';

export function haproxyBinary(): string | null {
  for (const p of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    try {
      execFileSync(p, ['-v'], { stdio: 'pipe' });
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export interface Backend {
  name: string;
  /** The port HAProxy listens on for this service. */
  frontPort: number;
  servers: { name: string; port: number }[];
}

export interface HaproxyOptions {
  backends: Backend[];
  interMs: number;
  fall: number;
  rise: number;
  /** Let HAProxy resend a request that met a 503, a refused or a dropped connection to another server (L7 retries). */
  retryOn503: boolean;
}

export function haproxyConfig(o: HaproxyOptions, socket: string): string {
  const lines = [
    'global',
    '  maxconn 4000',
    `  stats socket ${socket} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 10s',
    // Without it the whole check must finish within `inter`; /readyz may take up to 2 s (its
    // per-dependency deadline), and a slow answer is not a dead server.
    '  timeout check 3s',
    '  option http-keep-alive',
    // A refused connection (a process between stop and start) is retried on another server.
    '  retries 3',
    '  option redispatch 1',
    ...(o.retryOn503
      ? [
          // trackhouse's 503 means "nothing was accepted, send it again": safe to resend elsewhere.
          // L7 retries need the request body buffered.
          '  option http-buffer-request',
          '  retry-on conn-failure empty-response 503',
        ]
      : []),
    '',
  ];
  for (const b of o.backends) {
    lines.push(
      `frontend ${b.name}`,
      `  bind 127.0.0.1:${b.frontPort}`,
      `  default_backend ${b.name}_servers`,
      '',
      `backend ${b.name}_servers`,
      '  balance roundrobin',
      '  option httpchk',
      '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host trackhouse',
      '  http-check expect status 200',
      `  default-server inter ${o.interMs}ms fall ${o.fall} rise ${o.rise}`,
      ...b.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`),
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

export class Haproxy {
  private proc: Proc | null = null;

  constructor(
    private readonly binary: string,
    private readonly configFile: string,
    private readonly socket: string,
    private readonly logFile: string,
  ) {}

  async start(o: HaproxyOptions): Promise<void> {
    writeFileSync(this.configFile, haproxyConfig(o, this.socket));
    execFileSync(this.binary, ['-c', '-q', '-f', this.configFile], { stdio: 'pipe' });
    // -db: foreground, no daemon, so it is our child and stopped by its PID.
    this.proc = startProc('haproxy', this.binary, ['-db', '-f', this.configFile], { ...process.env } as Record<string, string>, this.logFile);
    const deadline = Date.now() + 10_000;
    while ((await this.stat().catch(() => null)) === null) {
      if (!this.proc.running() || Date.now() > deadline) throw new Error(`haproxy did not start; see ${this.logFile}`);
      await sleep(100);
    }
  }

  /** `show stat` as rows of { pxname, svname, status, ... }. */
  async stat(): Promise<Record<string, string>[]> {
    const text = await new Promise<string>((resolve, reject) => {
      const s = net.connect(this.socket);
      let out = '';
      s.on('connect', () => s.write('show stat\n'));
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    const [head, ...rows] = text.trim().split('\n');
    const cols = head!.replace(/^# /, '').split(',');
    return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v])));
  }

  async server(backend: string, server: string): Promise<Record<string, string>> {
    return (await this.stat()).find((r) => r.pxname === `${backend}_servers` && r.svname === server) ?? {};
  }

  /** Waits until HAProxy's health checks say `status` ('UP' or 'DOWN', not a transition such as 'DOWN 1/2') for the server. */
  async waitStatus(backend: string, server: string, status: 'UP' | 'DOWN', timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const row = await this.server(backend, server);
      if (row.status === status) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) {
        throw new Error(`haproxy did not see ${backend}/${server} ${status} within ${timeoutMs / 1000} s: status ${row.status}, last check ${row.check_status} ${row.check_code ?? ''} ${row.last_chk ?? ''}`);
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop(10_000);
  }
}
