// Today's top events and categories: the daily rollups (by=event, by=category) from midnight UTC.
import type { Api } from '../api.js';
import { bars, part, setStatus } from '../dom.js';
import { fmtInt } from '../format.js';
import { type Panel, panelError } from '../panel.js';
import { topKeys, utcDay } from '../series.js';
import type { RollupRow } from '../types.js';

const TOP = 10;

/** by=event rows of other calls than track carry their type as key: say so. */
export function eventLabel(r: RollupRow): string {
  return r.type !== undefined && r.type !== 'track' ? `(${r.type} calls)` : r.key;
}

export class TopPanel implements Panel {
  readonly id = 'top';
  readonly everyMs = 5_000;

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
  ) {}

  reset(): void {
    part(this.section, 'events').replaceChildren();
    part(this.section, 'categories').replaceChildren();
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void> {
    const from = utcDay(Date.now());
    let events: RollupRow[];
    let categories: RollupRow[];
    try {
      [events, categories] = await Promise.all([
        this.api.get<{ rows: RollupRow[] }>('/v1/rollups/daily', { by: 'event', from }).then((b) => b.rows),
        this.api.get<{ rows: RollupRow[] }>('/v1/rollups/daily', { by: 'category', from }).then((b) => b.rows),
      ]);
    } catch (err) {
      panelError(this.section, err, 'rollups unavailable');
      return;
    }
    setStatus(this.section, '');
    const item = (r: { key: string; events: number; users: number }) => ({
      label: r.key,
      value: r.events,
      text: `${fmtInt(r.events)}`,
      title: `${fmtInt(r.events)} events, ${fmtInt(r.users)} users`,
    });
    bars(part(this.section, 'events'), topKeys(events.map((r) => ({ ...r, key: eventLabel(r) })), TOP).map(item), 'No events today yet.');
    bars(
      part(this.section, 'categories'),
      topKeys(categories.map((r) => ({ ...r, key: r.key === '' ? '(no category)' : r.key })), TOP).map(item),
      'No events today yet.',
    );
  }
}
