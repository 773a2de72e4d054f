// Live events per second per source: GET /v1/volume?by=source&window=minute over the last 15
// minutes, every 2 s. A server without live volume (404), or whose stream is not running (503
// stream_unavailable: starting, or QUERY_STREAM=off), says so; the panel then shows what it can:
// the ingest's accepted events per second, all sources together, from its metrics.
import { ApiError, type Api } from '../api.js';
import { TimeChart } from '../charts.js';
import { el, part, replace, setStatus } from '../dom.js';
import { fmtInt, fmtRate } from '../format.js';
import { isPartUnavailable, type Panel, panelError } from '../panel.js';
import { CounterRate, liveSeries, MINUTE } from '../series.js';
import type { PipelineStatus, VolumeRow } from '../types.js';
import type { PipelinePanel } from './pipeline.js';

const MINUTES = 15;
/** How often a server that answered 404 for /v1/volume is asked again. */
export const RECHECK_MS = 30_000;
const NO_VOLUME = 'Live volume not available on this server (it has no GET /v1/volume).';

export class LivePanel implements Panel {
  readonly id = 'live';
  readonly everyMs = 2_000;
  private readonly chart: TimeChart;
  private fallback = new CounterRate(MINUTES * MINUTE);
  private ingest: PipelineStatus['ingest'] | null = null;
  /** Why live volume is not shown (null: it is); a 404 is asked again after RECHECK_MS, a 503 at every refresh. */
  private volumeMissing: string | null = null;
  private missingSince = 0;

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
    pipeline: PipelinePanel,
  ) {
    this.chart = new TimeChart(part(section, 'chart'), {
      height: 220,
      unit: 'events/s',
      label: 'Chart of events per second by source over the last 15 minutes; the table below has the numbers.',
      format: fmtRate,
      windowSec: MINUTES * 60,
    });
    pipeline.onStatus((s) => {
      this.ingest = s.ingest;
      if (s.ingest.configured && s.ingest.events_accepted !== null) this.fallback.add(Date.parse(s.time), s.ingest.events_accepted);
      if (this.volumeMissing !== null) this.renderFallback();
    });
  }

  reset(): void {
    this.fallback = new CounterRate(MINUTES * MINUTE);
    this.ingest = null;
    this.volumeMissing = null;
    this.chart.clear();
    replace(part(this.section, 'table'));
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void | 'skipped'> {
    const now = Date.now();
    // A server without live volume is asked again now and then (it may be upgraded), not every 2 s.
    if (this.volumeMissing === NO_VOLUME && now - this.missingSince < RECHECK_MS) return 'skipped';
    const minute = Math.floor(now / MINUTE) * MINUTE;
    let rows: VolumeRow[];
    try {
      const from = new Date(minute - (MINUTES - 1) * MINUTE).toISOString();
      const to = new Date(minute + MINUTE).toISOString();
      rows = (await this.api.get<{ rows: VolumeRow[] }>('/v1/volume', { by: 'source', window: 'minute', from, to })).rows;
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'not_found') {
        this.volumeMissing = NO_VOLUME;
        this.missingSince = now;
        this.renderFallback();
        return;
      }
      if (isPartUnavailable(err)) {
        this.volumeMissing = `Live volume not available right now: ${err.message}.`;
        this.renderFallback();
        return;
      }
      panelError(this.section, err, 'live volume unavailable');
      return;
    }
    this.volumeMissing = null;
    const s = liveSeries(rows, now, MINUTES);
    setStatus(this.section, s.lines.length === 0 ? 'No events in the last 15 minutes.' : '');
    this.chart.set(s.x, s.lines);
    const head = el('tr', {}, el('th', {}, 'source'), el('th', { class: 'num' }, 'events/s now'), el('th', { class: 'num' }, 'events, 15 min'));
    const body = s.lines.map((l) => {
      const perMinute = l.values.map((v, i) => (i === l.values.length - 1 ? v * ((now - minute) / 1000) : v * 60));
      return el(
        'tr',
        { 'data-source': l.label },
        el('td', {}, l.label),
        el('td', { class: 'num' }, fmtRate(l.values[l.values.length - 1])),
        el('td', { class: 'num' }, fmtInt(Math.round(perMinute.reduce((a, b) => a + b, 0)))),
      );
    });
    replace(part(this.section, 'table'), el('thead', {}, head), el('tbody', {}, ...body));
  }

  private renderFallback(): void {
    const base = this.volumeMissing ?? NO_VOLUME;
    if (this.ingest === null || !this.ingest.configured || this.ingest.events_accepted === null) {
      setStatus(this.section, `${base} The ingest's own counters are not available either (DASHBOARD_INGEST_URL).`, 'warn');
      this.chart.clear();
      replace(part(this.section, 'table'));
      return;
    }
    setStatus(
      this.section,
      `${base} Shown instead: events the ingest accepted per second, all sources together, from its /metrics, since this page opened.`,
      'warn',
    );
    if (this.fallback.x.length > 0) this.chart.set(this.fallback.x, [{ label: 'all sources (ingest)', values: this.fallback.y }]);
    replace(
      part(this.section, 'table'),
      el('thead', {}, el('tr', {}, el('th', {}, 'source'), el('th', { class: 'num' }, 'events/s now'), el('th', { class: 'num' }, 'accepted since ingest start'))),
      el(
        'tbody',
        {},
        el(
          'tr',
          { 'data-source': 'all' },
          el('td', {}, 'all sources (ingest)'),
          el('td', { class: 'num' }, fmtRate(this.fallback.latest())),
          el('td', { class: 'num' }, fmtInt(this.ingest.events_accepted)),
        ),
      ),
    );
  }
}
