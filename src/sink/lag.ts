// Consumer lag, computed when /metrics is scraped: the broker's high watermark minus the sink
// group's committed offset, for each partition this member owns.
//
// Why at scrape time: the lag that matters is the lag while the sink cannot commit (ClickHouse
// down, rounds retrying); a value set after each committed round froze exactly then. Why bounded:
// a scrape must answer even when the broker is slow or gone, so offsets are read at most once per
// `maxAgeMs` (one read in flight at a time) and a scrape waits for a read at most `waitMs`, then
// answers with the last values read. It never throws (a failing collect fails the whole scrape).
//
// Why this member's partitions and not the topic's: each member reports the partitions it owns,
// so summing over instances gives the topic's lag once (every member reporting every partition
// would count it once per member). A partition with no committed offset yet counts from the low
// watermark, where the sink starts reading. A dead sink reports nothing: alert on its absence too.
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { settledWithin } from '../common/wait.js';
import type { OffsetsSource, TopicOffsets } from '../kafka/admin.js';

export interface LagProbeOptions {
  /** Offsets read less than this long ago are used as they are. */
  maxAgeMs: number;
  /** Longest a scrape waits for a fresh read before answering with the last one. */
  waitMs: number;
  now?: () => number;
}

export class LagProbe {
  private partitions: readonly number[] = [];
  private last: { at: number; offsets: TopicOffsets } | null = null;
  private reading: Promise<void> | null = null;
  private failing = false;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly source: OffsetsSource,
    private readonly opts: LagProbeOptions,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** This member's partitions after a (re)join. */
  assigned(partitions: readonly number[]): void {
    this.partitions = [...partitions];
  }

  /** Lag per owned partition, in partition order; empty before any read succeeded. Never rejects. */
  async lag(): Promise<[partition: number, lag: number][]> {
    if (this.closed || this.partitions.length === 0) return [];
    if (this.last === null || this.now() - this.last.at >= this.opts.maxAgeMs) {
      this.reading ??= this.refresh().finally(() => (this.reading = null));
      await settledWithin(this.reading, this.opts.waitMs);
    }
    if (this.last === null) return [];
    const { watermarks, committed } = this.last.offsets;
    const out: [number, number][] = [];
    for (const p of this.partitions) {
      const w = watermarks.get(p);
      if (!w) continue;
      const c = committed.get(p) ?? -1;
      out.push([p, Math.max(0, w.high - (c < 0 ? w.low : c))]);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading?.catch(() => {});
    await this.source.close().catch(() => {});
  }

  private async refresh(): Promise<void> {
    try {
      const offsets = await this.source.read();
      this.last = { at: this.now(), offsets };
      if (this.failing) this.log.info('consumer lag readable again');
      this.failing = false;
    } catch (err) {
      // Once per outage, not once per scrape; the gauge keeps the last values read meanwhile.
      if (!this.failing) this.log.warn({ err: errorMessage(err) }, 'could not read offsets for the consumer lag gauge; it shows the last values read');
      this.failing = true;
    }
  }
}
