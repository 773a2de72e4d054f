// `trackhouse alerts` without TRACKHOUSE_READ_KEYS: it runs (its webhooks need no key), but every
// /v1/volume and /v1/alerts request gets 401, so it says so at start and names the setting,
// where `trackhouse query` refuses to start (a deployment copied from the query's settings
// without the keys would otherwise look healthy: /readyz 200).
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';
import { spawnAlerts, streamEnv, type AlertsChild } from './stream-helpers.js';

const dir = tempDir();
let alerts: AlertsChild | undefined;
afterAll(async () => {
  alerts?.proc.kill('SIGTERM');
  await alerts?.exit;
  dir.remove();
});

it('warns at start, naming TRACKHOUSE_READ_KEYS, that its API will refuse every request', async () => {
  alerts = spawnAlerts(streamEnv(dir.path, { TRACKHOUSE_READ_KEYS: '', SHUTDOWN_DRAIN_DELAY_MS: '0' }));
  const port = await alerts.port;
  const res = await fetch(`http://127.0.0.1:${port}/v1/volume?by=event`, { headers: { authorization: 'Bearer any' } });
  expect(res.status).toBe(401);
  const warning = alerts.log
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => typeof l.msg === 'string' && l.msg.includes('TRACKHOUSE_READ_KEYS'));
  expect(warning).toMatchObject({ level: 40, component: 'alerts' });
  expect(warning?.msg).toBe('TRACKHOUSE_READ_KEYS is empty: GET /v1/volume and /v1/alerts answer 401 to every request (the webhooks are sent all the same)');
});
