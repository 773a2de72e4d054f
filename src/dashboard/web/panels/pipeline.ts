// Ingest health and sink lag, from GET /v1/pipeline (the query process reads the ingest's and the
// sink's /readyz and /metrics). Also the source of the ingest's counters for the live and
// rejected panels when the server has no live volume.
import type { Api } from '../api.js';
import { TimeChart } from '../charts.js';
import { el, part, replace, setStatus } from '../dom.js';
import { fmtBytes, fmtCount, fmtInt, fmtRate } from '../format.js';
import { type Panel, panelError } from '../panel.js';
import { CounterRate, History } from '../series.js';
import type { IngestStatus, PipelineStatus, SinkStatus } from '../types.js';

export class PipelinePanel implements Panel {
  readonly id = 'pipeline';
  readonly everyMs = 2_000;
  private readonly listeners: ((s: PipelineStatus) => void)[] = [];
  private readonly chart: TimeChart;
  private lag = new History();
  private accepted = new CounterRate();
  private inserted = new CounterRate();

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
  ) {
    this.chart = new TimeChart(part(section, 'chart'), {
      height: 140,
      unit: 'records',
      label: "Chart of the sink's lag in records over the last 15 minutes; the sink's card above has the current lag.",
      format: (v) => fmtInt(v),
      integer: true,
      windowSec: 15 * 60,
    });
  }

  /** Called with every status read. */
  onStatus(listener: (s: PipelineStatus) => void): void {
    this.listeners.push(listener);
  }

  reset(): void {
    this.lag = new History();
    this.accepted = new CounterRate();
    this.inserted = new CounterRate();
    this.chart.clear();
    replace(part(this.section, 'cards'));
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void> {
    let s: PipelineStatus;
    try {
      s = await this.api.get<PipelineStatus>('/v1/pipeline');
    } catch (err) {
      panelError(this.section, err, 'ingest and sink status unavailable');
      return;
    }
    const t = Date.parse(s.time);
    if (s.ingest.configured && s.ingest.events_accepted !== null) this.accepted.add(t, s.ingest.events_accepted);
    if (s.sink.configured && s.sink.rows_inserted !== null) this.inserted.add(t, s.sink.rows_inserted);
    if (s.sink.configured && s.sink.lag !== null) this.lag.add(t, s.sink.lag);
    const none = !s.ingest.configured && !s.sink.configured;
    setStatus(
      this.section,
      none
        ? 'Not configured: set DASHBOARD_INGEST_URL and DASHBOARD_SINK_URL on the query process to the ingest and sink (trackhouse start sets them itself).'
        : '',
      'warn',
    );
    replace(part(this.section, 'cards'), this.ingestCard(s.ingest), this.sinkCard(s.sink));
    if (s.sink.configured && this.lag.x.length > 0) this.chart.set(this.lag.x, [{ label: 'sink lag', values: this.lag.y }]);
    for (const l of this.listeners) l(s);
  }

  private ingestCard(i: IngestStatus | { configured: false }): HTMLElement {
    if (!i.configured) return card('Ingest', 'unknown', [], 'Not configured (DASHBOARD_INGEST_URL).');
    const rejected = sum(i.events_rejected) + sum(i.bodies_rejected);
    return card('Ingest', state(i), [
      ['accepted now', `${fmtRate(this.accepted.latest())} events/s`],
      ['accepted since start', fmtInt(i.events_accepted)],
      ['rejected since start', fmtInt(rejected)],
      ['requests waiting for Kafka', fmtInt(i.requests_in_flight)],
      ['bytes waiting for Kafka', fmtBytes(i.pending_bytes)],
    ], problem(i));
  }

  private sinkCard(k: SinkStatus | { configured: false }): HTMLElement {
    if (!k.configured) return card('Sink', 'unknown', [], 'Not configured (DASHBOARD_SINK_URL).');
    const partitions = k.lag_by_partition ? Object.keys(k.lag_by_partition).length : 0;
    return card('Sink', state(k), [
      ['lag', k.lag === null ? '—' : `${fmtInt(k.lag)} records (${fmtCount(partitions, 'partition')})`],
      ['inserted now', `${fmtRate(this.inserted.latest())} rows/s`],
      ['inserted since start', fmtInt(k.rows_inserted)],
      ['insert failures', fmtInt(k.insert_failures)],
      ['dead letters', fmtInt(sum(k.dead_letters))],
      ['waiting for ClickHouse', k.waiting_for_clickhouse === null ? '—' : k.waiting_for_clickhouse ? 'yes' : 'no'],
    ], problem(k));
  }
}

type Health = 'ready' | 'not ready' | 'no answer' | 'unknown';

/** 'unknown' when the metrics answered but /readyz did not (the note says why). */
function state(c: { reachable: boolean; ready: boolean | null }): Health {
  return !c.reachable ? 'no answer' : c.ready === null ? 'unknown' : c.ready ? 'ready' : 'not ready';
}

function problem(c: { error: string | null; checks: Record<string, string>; url: string }): string | null {
  const failing = Object.entries(c.checks).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`);
  const parts = [...failing, ...(c.error ? [c.error] : [])];
  return parts.length > 0 ? `${c.url}: ${parts.join('; ')}` : null;
}

function sum(m: Record<string, number> | null): number {
  return m === null ? 0 : Object.values(m).reduce((a, b) => a + b, 0);
}

function card(title: string, health: Health, rows: [string, string][], note: string | null): HTMLElement {
  const cls = health === 'ready' ? 'ok' : health === 'unknown' ? 'info' : 'error';
  return el(
    'div',
    { class: 'card', 'data-component': title.toLowerCase() },
    el('h3', {}, title, ' ', el('span', { class: `pill ${cls}` }, health)),
    el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    note ? el('p', { class: 'note' }, note) : null,
  );
}
