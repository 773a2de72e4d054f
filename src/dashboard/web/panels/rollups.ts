// The daily rollups by event, category or group over a chosen range of UTC days: a chart of the
// busiest keys and the rows as a table. Refreshed on "Show" and every 30 s.
import type { Api } from '../api.js';
import { TimeChart } from '../charts.js';
import { el, part, replace, setStatus } from '../dom.js';
import { fmtCount, fmtInt } from '../format.js';
import { type Panel, panelError } from '../panel.js';
import { addDays, dailySeries, utcDay } from '../series.js';
import type { RollupRow } from '../types.js';
import { eventLabel } from './top.js';

/** Rows the table shows at most (a year of many keys is more than anyone reads). */
const MAX_TABLE_ROWS = 1_000;

export class RollupsPanel implements Panel {
  readonly id = 'rollups';
  readonly everyMs = 30_000;
  private readonly chart: TimeChart;
  private readonly form: HTMLFormElement;

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
    run: (p: Panel) => void,
  ) {
    this.chart = new TimeChart(part(section, 'chart'), {
      height: 240,
      unit: 'events',
      label: 'Chart of events per UTC day for the busiest keys; the table below has every row.',
      days: true,
      integer: true,
      format: (v) => fmtInt(v),
    });
    this.form = part<HTMLFormElement>(section, 'form');
    const today = utcDay(Date.now());
    this.input('from').value = addDays(today, -6);
    this.input('to').value = addDays(today, 1);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(this);
    });
  }

  private input(name: string): HTMLInputElement | HTMLSelectElement {
    return this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  }

  reset(): void {
    this.chart.clear();
    part(this.section, 'table').replaceChildren();
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void> {
    const by = this.input('by').value;
    const from = this.input('from').value;
    const to = this.input('to').value;
    const source = this.input('source').value.trim();
    let rows: RollupRow[];
    try {
      rows = (await this.api.get<{ rows: RollupRow[] }>('/v1/rollups/daily', { by, from, to, source })).rows;
    } catch (err) {
      panelError(this.section, err, 'rollups unavailable');
      return;
    }
    const keyed = by === 'event' ? rows.map((r) => ({ ...r, key: eventLabel(r) })) : rows.map((r) => ({ ...r, key: r.key === '' ? '(none)' : r.key }));
    const s = dailySeries(keyed, from, to);
    setStatus(this.section, rows.length === 0 ? `No events from ${from} to ${to} (UTC days, the last not included).` : '');
    this.chart.set(s.x, s.lines);
    const sorted = [...keyed].sort((a, b) => (a.day === b.day ? b.events - a.events || (a.key < b.key ? -1 : 1) : a.day < b.day ? 1 : -1));
    const shown = sorted.slice(0, MAX_TABLE_ROWS);
    replace(
      part(this.section, 'table'),
      el('caption', {}, `${fmtCount(rows.length, 'row')} by ${by}${rows.length > shown.length ? `, the first ${fmtInt(shown.length)} shown` : ''}`),
      el('thead', {}, el('tr', {}, el('th', {}, 'day (UTC)'), el('th', {}, by), el('th', { class: 'num' }, 'events'), el('th', { class: 'num' }, 'users'))),
      el('tbody', {}, ...shown.map((r) => el('tr', {}, el('td', {}, r.day), el('td', {}, r.key), el('td', { class: 'num' }, fmtInt(r.events)), el('td', { class: 'num' }, fmtInt(r.users))))),
    );
  }
}
