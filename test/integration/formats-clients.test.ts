// Each vendor's official Node client from npm (Jitsu's @jitsu/js among them), unchanged, pointed at trackhouse: its calls become
// canonical events that the query API answers with (ingest -> Kafka -> sink -> chDB -> query).
import { randomUUID } from 'node:crypto';
import * as amplitude from '@amplitude/analytics-node';
import Analytics from '@rudderstack/rudder-sdk-node';
import { buildPageView, buildScreenView, buildSelfDescribingEvent, buildStructEvent, newTracker } from '@snowplow/node-tracker';
import { jitsuAnalytics } from '@jitsu/js';
import Mixpanel from 'mixpanel';
import { PostHog } from 'posthog-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WRITE_KEY } from './ingest-support.js';
import { byKind, startPipeline, type Pipeline } from './pipeline-support.js';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});

afterAll(async () => {
  await p?.close();
});

it('posthog-node: capture, identify, alias, groupIdentify and a pageview reach the query API as track, identify, alias, group and page', async () => {
  const user = `ph-${randomUUID()}`;
  const client = new PostHog(WRITE_KEY, { host: p.ingest.url, flushAt: 50, flushInterval: 0, fetchRetryCount: 0 });
  const errors: unknown[] = [];
  client.on('error', (e) => errors.push(e));
  client.capture({ distinctId: user, event: 'Order Completed', properties: { total: 12.5, category: 'books' }, groups: { company: 'acme' } });
  client.capture({ distinctId: user, event: '$pageview', properties: { $current_url: 'https://shop.example/pricing', title: 'Pricing' } });
  client.identify({ distinctId: user, properties: { $set: { plan: 'pro' }, $set_once: { first_seen: 'today', plan: 'free' } } });
  client.alias({ distinctId: `${user}-old`, alias: user });
  client.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { employees: 40 }, distinctId: user });
  // Flags are asked of /flags/?v=2: none is on (for another id, as the call is itself tracked).
  const flag = await client.getFeatureFlag('new-checkout', `${user}-flags`);
  await client.shutdown();
  expect(errors).toEqual([]);
  expect(flag === undefined || flag === false).toBe(true);

  const got = byKind(await p.eventsOf(user, 5));
  expect([...got.keys()].sort()).toEqual(['alias', 'group', 'identify', 'page', 'track:Order Completed']);
  const track = got.get('track:Order Completed')!;
  expect(track).toMatchObject({ user_id: user, source: 'test', category: 'books', group_id: 'acme' });
  expect(track.properties).toMatchObject({ total: 12.5, category: 'books', $groups: { company: 'acme' }, $lib: 'posthog-node' });
  expect(track.context).toMatchObject({ library: { name: 'posthog-node' }, groupId: 'acme' });
  expect(track.event_id).toMatch(/^[0-9a-f-]{36}$/); // the client's uuid
  expect(got.get('page')).toMatchObject({ name: 'Pricing' });
  expect(got.get('identify')!.traits).toEqual({ plan: 'pro', first_seen: 'today' });
  expect(got.get('alias')).toMatchObject({ user_id: user, previous_id: `${user}-old` });
  expect(got.get('group')).toMatchObject({ group_id: 'acme', traits: { employees: 40 } });
});

it('@amplitude/analytics-node: HTTP V2 and Batch API events, identify and revenue fields, insert_id as the event id', async () => {
  for (const [path, useBatch] of [
    ['/2/httpapi', false],
    ['/batch', true],
  ] as const) {
    const user = `amp-${randomUUID()}`;
    const client = amplitude.createInstance();
    await client.init(WRITE_KEY, { serverUrl: `${p.ingest.url}${path}`, useBatch, flushIntervalMillis: 50, flushQueueSize: 10, flushMaxRetries: 1 }).promise;
    const results = await Promise.all([
      client.track('Song Played', { genre: 'jazz', category: 'music' }, { user_id: user, device_id: `dev-${user}`, insert_id: `ins-${user}`, price: 1.5, quantity: 2 }).promise,
      client.identify(new amplitude.Identify().set('plan', 'pro').setOnce('first', 'x'), { user_id: user }).promise,
    ]);
    await client.flush().promise;
    expect(results.map((r) => [r.code, r.message])).toEqual([
      [200, 'Event tracked successfully'],
      [200, 'Event tracked successfully'],
    ]);
    const got = byKind(await p.eventsOf(user, 2));
    const track = got.get('track:Song Played')!;
    expect(track).toMatchObject({ event_id: `ins-${user}`, user_id: user, anonymous_id: `dev-${user}`, category: 'music', source: 'test' });
    expect(track.properties).toEqual({ genre: 'jazz', category: 'music', price: 1.5, quantity: 2 });
    expect((track.context.library as { name: string }).name).toBe('amplitude-node-ts');
    expect(got.get('identify')!.traits).toEqual({ plan: 'pro', first: 'x' });
  }
});

it('mixpanel: track, people.set and import (legacy api_key) reach the query API', async () => {
  const user = `mp-${randomUUID()}`;
  const port = Number(new URL(p.ingest.url).port);
  // `port` is read by the client but missing from its type definitions.
  const mp = Mixpanel.init(WRITE_KEY, { host: '127.0.0.1', port, protocol: 'http', key: WRITE_KEY } as Parameters<typeof Mixpanel.init>[1]);
  const call = (f: (cb: (err: Error | undefined) => void) => void) => new Promise<void>((resolve, reject) => f((err) => (err ? reject(err) : resolve())));
  await call((cb) => mp.track('Signed Up', { distinct_id: user, plan: 'pro', category: 'growth', $insert_id: `mpi-${user}` }, cb));
  await call((cb) => mp.people.set(user, { name: 'Ada', plan: 'pro' }, cb));
  const then = new Date('2026-11-20T10:00:00Z');
  await call((cb) => mp.import('Old Purchase', then, { distinct_id: user, amount: 9 }, cb));

  const got = byKind(await p.eventsOf(user, 3));
  expect(got.get('track:Signed Up')).toMatchObject({ event_id: `mpi-${user}`, user_id: user, category: 'growth', source: 'test' });
  expect(got.get('track:Signed Up')!.properties).toMatchObject({ plan: 'pro', mp_lib: 'node' });
  expect(got.get('track:Signed Up')!.properties).not.toHaveProperty('token');
  expect(got.get('identify')!.traits).toEqual({ name: 'Ada', plan: 'pro' });
  const old = got.get('track:Old Purchase')!;
  expect(old.timestamp).toBe('2026-11-20T10:00:00.000Z');
  expect(old.properties).toMatchObject({ amount: 9 });
  // The client sends ip=0 unless told to geolocate: the request comes from the site's server, so
  // its address is not the user's, and Mixpanel keeps none. No context.ip is filled from it.
  for (const e of got.values()) expect(e.context).not.toHaveProperty('ip');

  // With `geolocate: true` (ip=1) the caller's address is the user's, as Mixpanel takes it.
  const geo = Mixpanel.init(WRITE_KEY, { host: '127.0.0.1', port, protocol: 'http', geolocate: true } as Parameters<typeof Mixpanel.init>[1]);
  const located = `${user}-geo`;
  await call((cb) => geo.track('Located', { distinct_id: located }, cb));
  await call((cb) => geo.people.set(located, { plan: 'pro' }, cb));
  for (const e of await p.eventsOf(located, 2)) expect(e.context).toMatchObject({ ip: '127.0.0.1' });
});

it('@snowplow/node-tracker: page view, structured, self-describing and screen view events over tp2', async () => {
  const user = `sp-${randomUUID()}`;
  const statuses: number[] = [];
  const url = new URL(p.ingest.url);
  const tracker = newTracker(
    { namespace: 'test', appId: WRITE_KEY, encodeBase64: true },
    { endpoint: url.hostname, port: Number(url.port), protocol: 'http', eventMethod: 'post', bufferSize: 1, onRequestSuccess: (_d, r) => statuses.push(r.status), onRequestFailure: (_d, r) => statuses.push(r?.status ?? -1) },
  );
  tracker.setUserId(user);
  tracker.setDomainUserId(`duid-${user}`);
  tracker.track(buildPageView({ pageUrl: 'https://shop.example/', pageTitle: 'Home' }));
  tracker.track(buildStructEvent({ category: 'shop', action: 'add-to-basket', label: 'sku-1', value: 3 }));
  tracker.track(buildSelfDescribingEvent({ event: { schema: 'iglu:com.acme/button_click/jsonschema/1-0-0', data: { id: 'buy', count: 2 } } }));
  tracker.track(buildScreenView({ name: 'Settings', id: randomUUID() }));
  await tracker.flush();
  // The tracker queues events asynchronously and sends what is queued in one POST or several.
  for (let i = 0; i < 300 && statuses.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);

  const got = byKind(await p.eventsOf(user, 4));
  expect([...got.keys()].sort()).toEqual(['page', 'screen', 'track:add-to-basket', 'track:button_click']);
  expect(got.get('page')).toMatchObject({ name: 'Home', user_id: user, anonymous_id: `duid-${user}`, source: 'test' });
  expect(got.get('page')!.context).toMatchObject({ page: { url: 'https://shop.example/', title: 'Home' }, app: { id: WRITE_KEY } });
  expect(got.get('track:add-to-basket')).toMatchObject({ category: 'shop', properties: { category: 'shop', action: 'add-to-basket', label: 'sku-1', value: 3 } });
  expect(got.get('track:button_click')!.properties).toEqual({ id: 'buy', count: 2 });
  expect(got.get('screen')).toMatchObject({ name: 'Settings' });
  for (const e of got.values()) expect(e.event_id).toMatch(/^[0-9a-f-]{36}$/); // eid
});

it('@rudderstack/rudder-sdk-node: gzip JSON sent as application/x-www-form-urlencoded to /v1/batch is taken, timed by its originalTimestamp', async () => {
  const user = `rs-${randomUUID()}`;
  const client = new Analytics(WRITE_KEY, { dataPlaneUrl: p.ingest.url, flushAt: 10, flushInterval: 100_000 });
  // The SDK sends its first call at once and queues the others until a flush. It stamps each
  // call with originalTimestamp (not timestamp) and the request with sentAt.
  client.track({ userId: user, event: 'Item Viewed', properties: { sku: 'a', category: 'shoes' } });
  const calledAt = Date.now();
  client.identify({ userId: user, traits: { plan: 'team' } });
  await new Promise((r) => setTimeout(r, 1500));
  await client.flush();
  const got = byKind(await p.eventsOf(user, 2));
  expect(got.get('track:Item Viewed')).toMatchObject({ category: 'shoes', source: 'test', properties: { sku: 'a', category: 'shoes' } });
  const identify = got.get('identify')!;
  expect(identify.traits).toEqual({ plan: 'team' });
  // Its User-Agent is the old analytics-node's, but its calls say `channel`: RudderStack's server fills the address.
  expect(identify.context).toMatchObject({ ip: '127.0.0.1' });
  // The queued call left 1.5 s after it was made: its stored time is the call's, not the arrival's.
  const timestamp = Date.parse(identify.timestamp);
  expect(Date.parse(identify.received_at) - timestamp).toBeGreaterThanOrEqual(1400);
  expect(Math.abs(timestamp - calledAt)).toBeLessThan(400);
});

it('@jitsu/js: identify, track, page and group to /api/s/s2s/ and /api/s/ with its key:secret X-Write-Key, and its IP policy honoured', async () => {
  const user = `jitsu-${randomUUID()}`;
  const errors: string[] = [];
  const client = (s2s: boolean, ipPolicy?: 'keep' | 'stripLastOctet' | 'remove', writeKey = `${WRITE_KEY}:any-secret`) =>
    jitsuAnalytics({ host: p.ingest.url, writeKey, s2s, privacy: ipPolicy === undefined ? undefined : { ipPolicy }, errorPolicy: (msg: string) => void errors.push(msg) });
  // Server to server (/api/s/s2s/<call>).
  const server = client(true);
  await server.identify(user, { plan: 'pro' });
  await server.track('Order Completed', { total: 12.5, category: 'books' });
  await server.group('acme', { employees: 40 });
  // The browser's paths (/api/s/<call>), from Node: the address the edge fills is stripped, or left out, as asked.
  const stripped = client(false, 'stripLastOctet');
  await stripped.identify(user);
  await stripped.page('Pricing', { path: '/pricing' });
  const removed = client(false, 'remove');
  await removed.identify(user);
  await removed.track('Signed Out');
  expect(errors).toEqual([]);
  // A key trackhouse does not know is refused (401), and the SDK says so; its calls are for the
  // same user, so had they been taken they would be among the user's events read below.
  const stranger = client(true, undefined, 'nobody:secret');
  await stranger.identify(user);
  await stranger.track('Never Stored');
  expect(errors).toHaveLength(2);
  for (const e of errors) expect(e).toMatch(/401/);

  const got = byKind(await p.eventsOf(user, 7));
  expect([...got.keys()].sort()).toEqual(['group', 'identify', 'page', 'track:Order Completed', 'track:Signed Out']);
  const track = got.get('track:Order Completed')!;
  expect(track).toMatchObject({ user_id: user, source: 'test', category: 'books', properties: { total: 12.5, category: 'books' } });
  expect(track.context).toMatchObject({ library: { name: '@jitsu/js' } });
  // Server to server: the caller is the site's backend, and Jitsu fills context.ip for browser calls only.
  for (const e of [track, got.get('group')!]) expect(e.context).not.toHaveProperty('ip');
  expect(track.event_id).not.toBe('');
  expect(got.get('group')).toMatchObject({ group_id: 'acme', traits: { employees: 40 } });
  expect(got.get('page')).toMatchObject({ name: 'Pricing', properties: { path: '/pricing' } });
  expect(got.get('page')!.context.ip).toBe('127.0.0.0');
  expect(got.get('track:Signed Out')!.context).not.toHaveProperty('ip');
  expect((await p.eventsOf(user, 7)).some((e) => e.event === 'Never Stored')).toBe(false);
});
