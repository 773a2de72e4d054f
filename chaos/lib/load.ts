// Load generators on undici (a connection pool whose errors say what happened on the socket):
//
// - IngestLoad: `connections` workers POST /v1/batch with ledger events at a paced request rate.
//   A 200 marks every event of the batch acked. A 503 is retried, with the same events, after its
//   Retry-After (as Segment's clients do). A refused connection, a reset or a timeout is counted
//   as failed and the same batch is sent again after a short pause (its outcome is unknown: the
//   events may be stored even though no 200 came back; that is why the ledger's ids are unique).
// - QueryLoad: per-user reads, counted the same way (a 503 is retried after Retry-After).
// - Probe: one event every `intervalMs`, resent until it gets a 200, ignoring Retry-After; the
//   times of its 200s tell when ingest answered 200 again after a fault.
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Ledger } from './ledger.js';

export type FailureKind = 'refused' | 'reset' | 'timeout' | 'other';

export class Counters {
  requests = 0;
  ok = 0;
  /** 503 answers, each retried after its Retry-After. */
  retried503 = 0;
  /** Requests with no HTTP answer. */
  failed: Record<FailureKind, number> = { refused: 0, reset: 0, timeout: 0, other: 0 };
  /** Answers other than 200 and 503, by status. */
  otherStatus: Record<string, number> = {};
  private latencies: number[] = [];
  readonly firstErrors: string[] = [];

  recordLatency(ms: number): void {
    this.latencies.push(ms);
  }

  get failedTotal(): number {
    return this.failed.refused + this.failed.reset + this.failed.timeout + this.failed.other;
  }

  noteError(text: string): void {
    if (this.firstErrors.length < 5) this.firstErrors.push(text);
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  summary(): Record<string, unknown> {
    return {
      requests: this.requests,
      ok: this.ok,
      retried_503: this.retried503,
      failed: this.failedTotal,
      failed_by_kind: { ...this.failed },
      other_status: { ...this.otherStatus },
      latency_ms: { p50: round(this.percentile(50)), p99: round(this.percentile(99)), max: round(this.percentile(100)) },
      first_errors: this.firstErrors,
    };
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

export function classify(err: unknown): FailureKind {
  const code = (err as { code?: string }).code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || /other side closed|socket hang up/i.test(message)) return 'reset';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

function retryAfterMs(header: string | string[] | undefined, fallbackS: number): number {
  const v = Array.isArray(header) ? header[0] : header;
  const s = v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : fallbackS;
  return s * 1000;
}

/** Paces requests over all workers to `ratePerS` (0: as fast as answers come). */
class Pacer {
  private nextAt = performance.now();
  constructor(private readonly ratePerS: number) {}
  async slot(): Promise<void> {
    if (this.ratePerS <= 0) return;
    const now = performance.now();
    this.nextAt = Math.max(this.nextAt + 1000 / this.ratePerS, now);
    const wait = this.nextAt - now;
    if (wait > 1) await sleep(wait);
  }
}

export interface IngestLoadOptions {
  url: string;
  ledger: Ledger;
  writeKey: string;
  connections: number;
  /** Requests per second over all connections. */
  ratePerS: number;
  /** Events per request. */
  batch: number;
  timeoutMs?: number;
  /** Pause before resending after a failure without an answer. */
  failurePauseMs?: number;
}

export class IngestLoad {
  readonly counters = new Counters();
  private stopping = false;
  private readonly pool: Pool;
  private readonly pacer: Pacer;
  private workers: Promise<void>[] = [];
  private readonly auth: string;
  private readonly abort = new AbortController();

  constructor(private readonly o: IngestLoadOptions) {
    this.pool = new Pool(o.url, {
      connections: o.connections,
      pipelining: 1,
      headersTimeout: o.timeoutMs ?? 30_000,
      bodyTimeout: o.timeoutMs ?? 30_000,
      connectTimeout: 5_000,
    });
    this.pacer = new Pacer(o.ratePerS);
    setMaxListeners(o.connections + 10, this.abort.signal);
    this.auth = `Basic ${Buffer.from(`${o.writeKey}:`).toString('base64')}`;
  }

  start(): void {
    for (let i = 0; i < this.o.connections; i++) this.workers.push(this.worker());
  }

  /** Sends nothing new; waits for the requests in flight (their retries are dropped). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await Promise.all(this.workers);
    await this.pool.close();
  }

  private async worker(): Promise<void> {
    const { ledger } = this.o;
    while (!this.stopping) {
      await this.pacer.slot();
      if (this.stopping) return;
      const seqs: number[] = [];
      const timestamp = new Date().toISOString();
      const events: string[] = [];
      for (let i = 0; i < this.o.batch; i++) {
        const seq = ledger.take();
        seqs.push(seq);
        events.push(ledger.eventJson(seq, timestamp));
      }
      const body = `{"batch":[${events.join(',')}]}`;
      // The same body until it is acknowledged or the run stops.
      while (!this.stopping) {
        for (const s of seqs) ledger.markSent(s);
        const outcome = await this.send(body);
        if (outcome === 'ok') {
          for (const s of seqs) ledger.markAcked(s);
          break;
        }
        if (outcome === 'drop') break;
        await sleep(outcome, undefined, { signal: this.abort.signal }).catch(() => {});
      }
    }
  }

  /** 'ok', 'drop' (an answer that a resend would not change), or the ms to wait before resending. */
  private async send(body: string): Promise<'ok' | 'drop' | number> {
    const c = this.counters;
    c.requests++;
    const t0 = performance.now();
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: '/v1/batch',
        headers: { 'content-type': 'application/json', authorization: this.auth },
        body,
      });
      const text = await res.body.text();
      c.recordLatency(performance.now() - t0);
      if (res.statusCode === 200) {
        c.ok++;
        return 'ok';
      }
      if (res.statusCode === 503) {
        c.retried503++;
        return retryAfterMs(res.headers['retry-after'], 1);
      }
      c.otherStatus[res.statusCode] = (c.otherStatus[res.statusCode] ?? 0) + 1;
      c.noteError(`${res.statusCode} ${text.slice(0, 200)}`);
      return 'drop';
    } catch (err) {
      const kind = classify(err);
      c.failed[kind]++;
      c.noteError(`${kind}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
      return this.o.failurePauseMs ?? 250;
    }
  }
}

export interface QueryLoadOptions {
  url: string;
  readKey: string;
  users: readonly string[];
  connections: number;
  ratePerS: number;
  timeoutMs?: number;
}

export class QueryLoad {
  readonly counters = new Counters();
  private stopping = false;
  private readonly pool: Pool;
  private readonly pacer: Pacer;
  private workers: Promise<void>[] = [];
  private n = 0;
  private readonly abort = new AbortController();

  constructor(private readonly o: QueryLoadOptions) {
    this.pool = new Pool(o.url, { connections: o.connections, pipelining: 1, headersTimeout: o.timeoutMs ?? 30_000, bodyTimeout: o.timeoutMs ?? 30_000, connectTimeout: 5_000 });
    this.pacer = new Pacer(o.ratePerS);
    setMaxListeners(o.connections + 10, this.abort.signal);
  }

  start(): void {
    for (let i = 0; i < this.o.connections; i++) this.workers.push(this.worker());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await Promise.all(this.workers);
    await this.pool.close();
  }

  private async worker(): Promise<void> {
    const c = this.counters;
    while (!this.stopping) {
      await this.pacer.slot();
      const user = this.o.users[this.n++ % this.o.users.length]!;
      while (!this.stopping) {
        c.requests++;
        const t0 = performance.now();
        let wait = 0;
        try {
          const res = await this.pool.request({
            method: 'GET',
            path: `/v1/users/${encodeURIComponent(user)}/events?limit=20`,
            headers: { authorization: `Bearer ${this.o.readKey}` },
          });
          const text = await res.body.text();
          c.recordLatency(performance.now() - t0);
          if (res.statusCode === 200) {
            c.ok++;
            break;
          }
          if (res.statusCode === 503) {
            c.retried503++;
            wait = retryAfterMs(res.headers['retry-after'], 1);
          } else {
            c.otherStatus[res.statusCode] = (c.otherStatus[res.statusCode] ?? 0) + 1;
            c.noteError(`${res.statusCode} ${text.slice(0, 200)}`);
            break;
          }
        } catch (err) {
          const kind = classify(err);
          c.failed[kind]++;
          c.noteError(`${kind}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
          wait = 250;
        }
        await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {});
      }
    }
  }
}

export class Probe {
  /** performance.now() of each 200, and of when that request was sent. */
  readonly okAt: number[] = [];
  readonly okSentAt: number[] = [];
  readonly failedAt: number[] = [];
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly pool: Pool;
  private readonly auth: string;

  constructor(
    url: string,
    private readonly ledger: Ledger,
    writeKey: string,
    private readonly intervalMs = 100,
  ) {
    this.pool = new Pool(url, { connections: 1, pipelining: 1, headersTimeout: 20_000, bodyTimeout: 20_000, connectTimeout: 2_000 });
    this.auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.pool.close();
  }

  /**
   * Seconds from `t` (performance.now()) to the first 200 to a request sent at or after it; null if
   * none yet. (A request sent before `t` may have been answered from before the fault.)
   */
  recoverySince(t: number): number | null {
    const i = this.okSentAt.findIndex((x) => x >= t);
    return i < 0 ? null : (this.okAt[i]! - t) / 1000;
  }

  private async run(): Promise<void> {
    const { ledger } = this;
    while (!this.stopping) {
      const seq = ledger.take();
      const body = `{"batch":[${ledger.eventJson(seq, new Date().toISOString())}]}`;
      while (!this.stopping) {
        ledger.markSent(seq);
        const t0 = performance.now();
        let ok = false;
        try {
          const res = await this.pool.request({ method: 'POST', path: '/v1/batch', headers: { 'content-type': 'application/json', authorization: this.auth }, body });
          await res.body.text();
          ok = res.statusCode === 200;
        } catch {
          ok = false;
        }
        const t1 = performance.now();
        if (ok) {
          ledger.markAcked(seq);
          this.okAt.push(t1);
          this.okSentAt.push(t0);
        } else {
          this.failedAt.push(t1);
        }
        await sleep(Math.max(0, this.intervalMs - (t1 - t0)));
        if (ok) break;
      }
    }
  }
}
