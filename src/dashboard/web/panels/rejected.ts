// Rejected events by reason. From live volume (`/v1/volume?by=reason`, today) where the
// server has it; otherwise (no live volume, or its stream not running yet) from the ingest's own
// counters (since it started), where the query process can read them; otherwise the panel says
// neither is available.
import { ApiError, type Api } from '../api.js';
import { bars, part, setStatus } from '../dom.js';
import { fmtInt } from '../format.js';
import { isPartUnavailable, type Panel, panelError } from '../panel.js';
import { rankCounts, sumByKey, utcDay } from '../series.js';
import type { PipelineStatus, VolumeRow } from '../types.js';
import { RECHECK_MS } from './live.js';
import type { PipelinePanel } from './pipeline.js';

export class RejectedPanel implements Panel {
  readonly id = 'rejected';
  readonly everyMs = 5_000;
  private ingest: PipelineStatus['ingest'] | null = null;
  private useIngest = false;
  private volumeMissingSince: number | null = null;

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
    pipeline: PipelinePanel,
  ) {
    pipeline.onStatus((s) => {
      this.ingest = s.ingest;
      if (this.useIngest) this.renderIngest();
    });
  }

  reset(): void {
    this.ingest = null;
    this.useIngest = false;
    this.volumeMissingSince = null;
    part(this.section, 'list').replaceChildren();
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void | 'skipped'> {
    if (this.volumeMissingSince !== null && Date.now() - this.volumeMissingSince < RECHECK_MS) return 'skipped';
    let rows: VolumeRow[] | null = null;
    try {
      rows = (await this.api.get<{ rows: VolumeRow[] }>('/v1/volume', { by: 'reason', window: 'day', from: `${utcDay(Date.now())}T00:00:00Z` })).rows;
    } catch (err) {
      if (isPartUnavailable(err)) {
        // The stream is starting (or runs elsewhere): the ingest's counters now, live volume at the next refresh.
        this.useIngest = true;
        this.renderIngest();
        return;
      }
      if (!(err instanceof ApiError && err.kind === 'not_found')) {
        panelError(this.section, err, 'rejected counts unavailable');
        return;
      }
    }
    this.volumeMissingSince = rows === null ? Date.now() : null;
    this.useIngest = rows === null;
    if (rows === null) {
      this.renderIngest();
      return;
    }
    setStatus(this.section, 'Today (UTC), from live volume.');
    this.render(sumByKey(rows));
  }

  private renderIngest(): void {
    const i = this.ingest;
    if (i === null || !i.configured || i.events_rejected === null) {
      setStatus(
        this.section,
        'Rejected events by reason: not available on this server (no live volume, and no ingest metrics: DASHBOARD_INGEST_URL).',
        'warn',
      );
      part(this.section, 'list').replaceChildren();
      return;
    }
    setStatus(this.section, "Since the ingest started, from its /metrics (live volume is not available). Whole bodies refused are marked 'body'.", 'info');
    const merged: Record<string, number> = { ...i.events_rejected };
    for (const [k, v] of Object.entries(i.bodies_rejected ?? {})) merged[`body: ${k}`] = (merged[`body: ${k}`] ?? 0) + v;
    this.render(merged);
  }

  private render(counts: Record<string, number>): void {
    bars(
      part(this.section, 'list'),
      rankCounts(counts).map((c) => ({ label: c.key, value: c.count, text: fmtInt(c.count) })),
      'No rejected events.',
    );
  }
}
