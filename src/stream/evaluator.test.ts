// Rule groups on a real store (lmdb in a temp folder): what a group's name does to its keys.
import { describe, expect, it } from 'vitest';
import { tempStreamStores } from '../../test/support/stream-store.js';
import type { EventProjection } from '../schema/index.js';
import { Evaluator } from './evaluator.js';
import { parseRules } from './rules.js';
import { keyPart } from './store.js';

const tempStore = tempStreamStores('trackhouse-evaluator-');

const NOW = Date.UTC(2026, 11, 5, 12, 0);
const event = (user: string): EventProjection => ({
  type: 'track', event: 'Order Completed', user_id: user, anonymous_id: null, timestamp: NOW, received_at: NOW, source: 'web', propsStart: 0, propsEnd: 0, idStart: 0, idEnd: 0, buf: Buffer.alloc(0),
});

describe('a rule grouped by user', () => {
  // A spec-valid user id of 3000 characters made the group's key exceed lmdb's 1978 bytes: the
  // write threw and the stream component crashed on every restart.
  it('keeps a group for a user id too long for an lmdb key, apart from a similar one, across a reload', async () => {
    const store = tempStore();
    const rules = parseRules({ rules: [{ name: 'per-user', group_by: 'user', window: { type: 'tumbling', size: '1h' }, condition: { above: 1000 }, webhook: { url: 'http://127.0.0.1:9999/hook' } }] }, { latenessMs: 60_000 });
    const users = ['ü'.repeat(3000), `${'ü'.repeat(2999)}x`];
    const evaluator = new Evaluator(rules, store.dbs);
    for (const u of [users[0]!, users[1]!, users[0]!]) evaluator.onEvent(event(u), 1, { get: () => u }, null);
    evaluator.afterRound(NOW);
    await store.dbs.root.transaction(() => evaluator.write());
    const again = new Evaluator(rules, store.dbs);
    again.load();
    expect([...again.runtimes[0]!.rw.groups.keys()].sort()).toEqual(users.map(keyPart).sort());
  });
});
