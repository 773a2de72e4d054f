// Time-series charts on uPlot (loaded by the page as a classic script: the global `uPlot`).
// One chart per container; it is rebuilt when its set of lines changes and otherwise only gets
// new data, and follows its container's width.

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#64748b'];

export interface ChartLine {
  label: string;
  values: (number | null)[];
}

export interface ChartOptions {
  height: number;
  /** Value axis unit shown in the legend, e.g. "events/s". */
  unit: string;
  /** The chart's text alternative: what it shows and where the same numbers are as text. */
  label: string;
  /** Days on the x axis (UTC dates) instead of times of day (the person's local time). */
  days?: boolean;
  /** Show this many seconds up to the newest point (a moving window), rather than the data's span. */
  windowSec?: number;
  /** Whole numbers only (counts): no fractional ticks. */
  integer?: boolean;
  format?: (v: number) => string;
}

const DAY_S = 86_400;
const INTEGER_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

export function chartsAvailable(): boolean {
  return typeof uPlot === 'function';
}

export class TimeChart {
  private plot: uPlot | null = null;
  private labels = '';
  private readonly resize: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private readonly opts: ChartOptions,
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.plot && this.container.clientWidth > 0) this.plot.setSize({ width: this.container.clientWidth, height: this.opts.height });
    });
    this.resize.observe(container);
  }

  set(x: number[], lines: readonly ChartLine[]): void {
    if (!chartsAvailable()) {
      this.container.textContent = 'Charts are unavailable: the chart library (uPlot) did not load. The numbers below are complete.';
      return;
    }
    const data = [x, ...lines.map((l) => l.values)] as uPlot.AlignedData;
    const labels = lines.map((l) => l.label).join('\n');
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.container.replaceChildren();
    this.labels = labels;
    this.plot = new uPlot(this.options(lines), data, this.container);
    // A canvas says nothing to a screen reader: one image with a name (its legend, the live
    // values under the pointer, is part of the picture); the numbers are in the panel as text.
    this.plot.root.setAttribute('role', 'img');
    this.plot.root.setAttribute('aria-label', this.opts.label);
  }

  clear(): void {
    this.plot?.destroy();
    this.plot = null;
    this.labels = '';
    this.container.replaceChildren();
  }

  private options(lines: readonly ChartLine[]): uPlot.Options {
    const fmt = this.opts.format ?? ((v: number) => String(v));
    const days = this.opts.days === true;
    const windowSec = this.opts.windowSec;
    const utcDay = (ts: number) => new Date(ts * 1e3).toISOString().slice(0, 10);
    return {
      width: Math.max(this.container.clientWidth, 200),
      // Room on the right for half the last x label, centred on the last tick: a day
      // ("2026-12-05") is wider than a time of day ("3:35am").
      padding: [8, days ? 40 : 24, 0, 0],
      height: this.opts.height,
      // Days are UTC days (the rollups'); times of day are shown in the person's own zone.
      ...(days ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') } : {}),
      scales: {
        x: {
          time: true,
          // The window ends at the newest point (uPlot pads a lone point's range by a lot).
          ...(windowSec !== undefined ? { range: (u: uPlot): uPlot.Range.MinMax => windowEnding(u.data[0], windowSec) } : {}),
        },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.2)' },
          ticks: { stroke: 'rgba(128,128,128,0.3)' },
          // One tick per day at most, labelled with the UTC date.
          ...(days ? { incrs: [DAY_S, 2 * DAY_S, 7 * DAY_S, 14 * DAY_S, 28 * DAY_S, 91 * DAY_S, 365 * DAY_S], values: (_u: uPlot, vals: number[]) => vals.map(utcDay) } : {}),
        },
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.2)' },
          ticks: { stroke: 'rgba(128,128,128,0.3)' },
          size: 56,
          ...(this.opts.integer ? { incrs: INTEGER_STEPS } : {}),
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        { label: days ? 'day (UTC)' : 'your time', value: days ? '{YYYY}-{MM}-{DD}' : '{HH}:{mm}' },
        ...lines.map((l, i) => ({
          label: l.label,
          stroke: PALETTE[i % PALETTE.length]!,
          width: 2,
          points: { show: days || l.values.length < 30 },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${fmt(v)} ${this.opts.unit}`),
        })),
      ],
      legend: { live: true },
    };
  }
}

function windowEnding(xs: ArrayLike<number>, windowSec: number): uPlot.Range.MinMax {
  const last = xs.length > 0 ? xs[xs.length - 1]! : Date.now() / 1e3;
  return [last - windowSec, last];
}
