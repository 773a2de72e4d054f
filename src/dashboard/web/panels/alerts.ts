// Alert states from GET /v1/alerts (rules, groups in the alert state, last notifications), where
// the server has alerts. Rendered tolerantly: fields this page does not know are left out.
import { ApiError, type Api } from '../api.js';
import { el, part, replace, setStatus } from '../dom.js';
import { fmtUtc } from '../format.js';
import { isPartUnavailable, type Panel, panelError } from '../panel.js';

type Obj = Record<string, unknown>;

const text = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as Obj[]) : []);
const first = (o: Obj, ...keys: string[]): unknown => keys.map((k) => o[k]).find((v) => v !== undefined && v !== null);

export class AlertsPanel implements Panel {
  readonly id = 'alerts';
  /** The last answer was the stream's 503 (it is starting): asked again sooner, so states show once it runs. */
  private starting = false;

  get everyMs(): number {
    return this.starting ? 2_000 : 10_000;
  }

  constructor(
    private readonly section: HTMLElement,
    private readonly api: Api,
  ) {}

  reset(): void {
    part(this.section, 'body').replaceChildren();
    setStatus(this.section, 'Waiting for the read key.');
  }

  async refresh(): Promise<void> {
    let body: Obj;
    try {
      body = await this.api.get<Obj>('/v1/alerts');
    } catch (err) {
      this.starting = isPartUnavailable(err);
      if (err instanceof ApiError && err.kind === 'not_found') {
        setStatus(this.section, 'Alerts not available on this server (it has no GET /v1/alerts).', 'warn');
        part(this.section, 'body').replaceChildren();
        return;
      }
      panelError(this.section, err, 'alerts unavailable');
      return;
    }
    this.starting = false;
    const rules = list(body.rules);
    const notifications = list(body.notifications).slice(0, 20);
    setStatus(this.section, rules.length === 0 ? 'No alert rules (TRACKHOUSE_ALERTS).' : '');
    const ruleItems = rules.map((r) => {
      const groups = list(first(r, 'alerting', 'firing', 'groups'));
      const name = text(first(r, 'name', 'id'));
      return el(
        'li',
        { class: groups.length > 0 ? 'alerting' : 'quiet' },
        el('strong', {}, name),
        ' ',
        el('span', { class: `pill ${groups.length > 0 ? 'error' : 'ok'}` }, groups.length > 0 ? `${groups.length} in alert` : 'ok'),
        groups.length > 0
          ? el('ul', {}, ...groups.map((g) => el('li', {}, text(first(g, 'group', 'key', 'name')) || '(all)', ' ', text(first(g, 'value', 'measure')))))
          : null,
      );
    });
    const table =
      notifications.length === 0
        ? null
        : el(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Last notifications' },
            el(
              'table',
              { class: 'compact' },
              el('thead', {}, el('tr', {}, el('th', {}, 'time'), el('th', {}, 'rule'), el('th', {}, 'group'), el('th', {}, 'kind'), el('th', {}, 'delivery'))),
              el(
                'tbody',
                {},
                ...notifications.map((n) =>
                  el(
                    'tr',
                    {},
                    el('td', {}, fmtUtc(text(first(n, 'time', 'at', 'created_at')))),
                    el('td', {}, text(first(n, 'rule', 'rule_id'))),
                    el('td', {}, text(first(n, 'group', 'key'))),
                    el('td', {}, text(first(n, 'kind', 'state', 'type'))),
                    el('td', {}, text(first(n, 'delivery', 'status'))),
                  ),
                ),
              ),
            ),
          );
    replace(part(this.section, 'body'), el('ul', { class: 'rules' }, ...ruleItems), table ? el('h3', {}, 'Last notifications') : null, table);
  }
}
