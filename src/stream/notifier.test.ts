// The notifier's told states on a real store (lmdb in a temp folder): what it keeps per group.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tempStreamStores } from '../../test/support/stream-store.js';
import { Notifier } from './notifier.js';
import { parseRules } from './rules.js';

const tempStore = tempStreamStores('trackhouse-notifier-');

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 5, 12, 0);
const rules = parseRules(
  { rules: [{ name: 'per-user', group_by: 'user', window: { type: 'tumbling', size: '1m' }, condition: { above: 0 }, webhook: { url: 'http://127.0.0.1:9999/hook' } }] },
  { latenessMs: 0 },
);

function notifierOn(store: ReturnType<typeof tempStore>): Notifier {
  const n = new Notifier({
    dbs: store.dbs,
    rules,
    log: pino({ level: 'silent' }),
    topic: 'trackhouse.alerts',
    webhook: { timeoutMs: 1_000, maxAttempts: 1, backoffBaseMs: 1, backoffMaxMs: 1, concurrency: 1 },
    killBeforeCall: 0,
  });
  n.load();
  return n;
}

/** A record of the notification log as the leader writes it. */
function told(n: Notifier, group: string, kind: 'alert' | 'recovered', windowEnd: number): void {
  const receiver = kind === 'alert' ? 'alert' : 'ok';
  const value = { id: `${group}:${kind}:${windowEnd}`, rule: 'per-user', group, kind, window_end: windowEnd, status: 'delivered', receiver, at: windowEnd, attempts: 1 };
  n.applyLog(`per-user\u0000${group}`, Buffer.from(JSON.stringify(value)), windowEnd);
}

const toldKeys = (store: ReturnType<typeof tempStore>) => [...store.dbs.told.getKeys({})].map((k) => (k as string[])[1]).sort();

describe('what the notifier keeps of receivers told', () => {
  // A rule grouped by user that alerts and recovers for each new user kept one told state per
  // user ever notified, in memory and in the store, for as long as the process ran (the soak).
  it('forgets a recovered group once its recovery window is final here, and keeps the others', () => {
    const store = tempStore();
    const n = notifierOn(store);
    for (let i = 0; i < 1000; i++) {
      told(n, `user-${i}`, 'alert', T0 + MINUTE);
      told(n, `user-${i}`, 'recovered', T0 + 2 * MINUTE);
    }
    told(n, 'still-alerting', 'alert', T0 + MINUTE);
    told(n, 'recovered-later', 'alert', T0 + 5 * MINUTE);
    told(n, 'recovered-later', 'recovered', T0 + 6 * MINUTE);
    // Windows ending up to T0 + 3 min are final on this replica.
    store.dbs.root.transactionSync(() => n.write((rule) => (rule === 'per-user' ? T0 + 3 * MINUTE : -Infinity)));
    expect(toldKeys(store)).toEqual(['recovered-later', 'still-alerting']);
    expect(n.toldCount).toBe(2);
    // A reload finds only those.
    expect(notifierOn(store).toldCount).toBe(2);
  });

  it('keeps every told state while the horizon has not passed its window (a replica behind the leader)', () => {
    const store = tempStore();
    const n = notifierOn(store);
    for (let i = 0; i < 10; i++) told(n, `user-${i}`, 'recovered', T0 + 2 * MINUTE);
    store.dbs.root.transactionSync(() => n.write(() => T0 + MINUTE));
    expect(toldKeys(store)).toHaveLength(10);
    store.dbs.root.transactionSync(() => n.write(() => T0 + 2 * MINUTE));
    expect(toldKeys(store)).toEqual([]);
    expect(n.toldCount).toBe(0);
  });
});
