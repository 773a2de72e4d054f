// Two `trackhouse alerts` in one lease group on the real broker: the second joining and then
// leaving each rebalance the group. Operators alert on ERROR, and a rebalance is no error: neither
// process logs a line at error (kafkajs wrote "Response Heartbeat" at ERROR for the broker's
// REBALANCE_IN_PROGRESS answer); the rebalance is said at info, with the group.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { loadConfig } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { tempDir } from '../support/env.js';
import { spawnAlerts, streamEnv, until, type AlertsChild } from './stream-helpers.js';

const dir = tempDir('trackhouse-stream-rebalance-');
const children: AlertsChild[] = [];
afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exit));
  dir.remove();
});

const parsed = (c: AlertsChild) =>
  c.log.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
const said = (c: AlertsChild, msg: string) => parsed(c).filter((l) => l.msg === msg);

describe('trackhouse alerts, a second replica joining and leaving the lease group', () => {
  it('rebalances without an ERROR line in either process; the rebalance is logged at info with the group', { timeout: 180_000 }, async () => {
    const env = streamEnv(dir.path, { ALERTS_LEASE_SESSION_TIMEOUT_MS: '6000' });
    const config = loadConfig(env);
    await ensureTopics(createKafka(config.kafka, silentLogger(), config.kafka.brokers), config.kafka);
    const first = spawnAlerts(env);
    children.push(first);
    await first.port;
    await until('the first replica to hold the lease', async () => said(first, 'holding the alerts lease: this replica sends notifications').length === 1);

    const second = spawnAlerts({ ...env, STREAM_DIR: path.join(dir.path, 'stream-2') });
    children.push(second);
    await second.port;
    // The first one re-joins for the second one's arrival, and again for its leaving.
    await until('a rebalance for the join', async () => said(first, 'The group is rebalancing, re-joining').length >= 1);
    // Its signal handlers are in once it says so.
    await until('the second replica to be ready', async () => said(second, 'alerts ready').length === 1);
    // Counted from here: a join said twice must not pass for the leave, or the first replica is
    // stopped before its rebalance for the leave (whose heartbeat answer kafkajs logged at ERROR).
    const beforeLeave = said(first, 'The group is rebalancing, re-joining').length;
    second.proc.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
    await until('a rebalance for the leave', async () => said(first, 'The group is rebalancing, re-joining').length > beforeLeave);
    first.proc.kill('SIGTERM');
    expect(await first.exit).toEqual({ code: 0, signal: null });

    for (const c of [first, second]) expect(parsed(c).filter((l) => Number(l.level) >= 50)).toEqual([]);
    const rebalances = said(first, 'The group is rebalancing, re-joining');
    expect(rebalances.map((l) => [l.level, l.groupId])).toEqual(rebalances.map(() => [30, config.stream.leaderGroup]));
  });
});
