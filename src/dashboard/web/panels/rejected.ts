// Rejected events by reason. From live volume (`/v1/volume?by=reason`, today) where the
// server has it; otherwise (no live volume, or its stream not running yet) from the ingest's own
// counters (since it started), where the query process can read them; otherwise the panel says
// neither is available. Below them, requests the ingest refused before reading any event (a wrong
// or missing write key, a body it could not read), by code with what each means, from the
// ingest's counters in /v1/pipeline: they are never written to Kafka, so live volume has none.
import { ApiError, type Api } from '../api.js';
import { bar, bars, el, part, replace, setStatus } from '../dom.js';
import { fmtInt } from '../format.js';
import { isPartUnavailable, type Panel, panelError } from '../panel.js';
import { refusals } from '../refusals.js';
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
      this.renderRefused();
    });
  }

  reset(): void {
    this.ingest = null;
    this.useIngest = false;
    this.volumeMissingSince = null;
    part(this.section, 'list').replaceChildren();
    part(this.section, 'refused').replaceChildren();
    part(this.section, 'refused-note').textContent = '';
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
        this.renderRefused();
        return;
      }
      if (!(err instanceof ApiError && err.kind === 'not_found')) {
        panelError(this.section, err, 'rejected counts unavailable');
        return;
      }
    }
    this.volumeMissingSince = rows === null ? Date.now() : null;
    this.useIngest = rows === null;
    this.renderRefused();
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
    // Whole bodies refused are listed below with the other refused requests, not here.
    setStatus(this.section, 'Since the ingest started, from its /metrics (live volume is not available).', 'info');
    this.render(i.events_rejected);
  }

  /** Requests refused before any event was read: the ingest's counters, whatever the list above reads. */
  private renderRefused(): void {
    const i = this.ingest;
    const note = part(this.section, 'refused-note');
    const list = part(this.section, 'refused');
    if (i === null) return; // no /v1/pipeline answer yet
    if (!i.configured || (i.unauthenticated === null && i.bodies_rejected === null)) {
      note.textContent = 'Not available: the query process cannot read the ingest\'s /metrics (DASHBOARD_INGEST_URL).';
      list.replaceChildren();
      return;
    }
    note.textContent = this.useIngest
      ? 'Since the ingest started, from its /metrics, as above. The sender got the status shown.'
      : 'Since the ingest started, from its /metrics: these are never written to Kafka, so live volume (above) has none, except bodies refused with a valid key, which are also rejected events above. The sender got the status shown.';
    const rows = refusals(i.unauthenticated, i.bodies_rejected);
    if (rows.length === 0) {
      replace(list, el('li', { class: 'empty' }, 'No requests refused.'));
      return;
    }
    const max = Math.max(...rows.map((r) => r.count), 1);
    replace(
      list,
      ...rows.map((r) =>
        el(
          'li',
          { 'data-code': r.code },
          el('div', { class: 'row' }, el('span', { class: 'label' }, r.status === null ? r.code : `${r.code} (${r.status})`), el('span', { class: 'value' }, fmtInt(r.count)), bar(r.count, max)),
          el('p', { class: 'meaning' }, r.meaning),
        ),
      ),
    );
  }

  private render(counts: Record<string, number>): void {
    bars(
      part(this.section, 'list'),
      rankCounts(counts).map((c) => ({ label: c.key, value: c.count, text: fmtInt(c.count) })),
      'No rejected events.',
    );
  }
}
