// A microservice's client of trackhouse, as a team writes it from docs/openapi.yaml: openapi-fetch
// over the types openapi-typescript generates (api.d.ts beside this file, not committed: made by
// each run of test/integration/openapi-clients.test.ts, which then compiles this file and itself
// with tsc --noEmit before it runs these calls). Nothing here is typed by hand but the field lists below, which tsc
// holds to the generated types: a field added to or missing from the document fails the compile,
// and the test compares them with the keys of the real replies.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api.js';

export type Api = Client<paths>;
export type StoredEvent = components['schemas']['StoredEvent'];
export type EventsPage = components['schemas']['EventsPage'];
export type RollupRow = components['schemas']['RollupRows']['rows'][number];
export type BatchEvent = components['schemas']['BatchEvent'];
export type Health = paths['/healthz']['get']['responses'][200]['content']['application/json'];

/** Exactly the keys of `T`, each once: tsc refuses a missing key and an extra one. */
type Fields<T> = { [K in keyof Required<T>]: true };

export const STORED_EVENT_FIELDS: Fields<StoredEvent> = {
  event_id: true,
  type: true,
  event: true,
  user_id: true,
  anonymous_id: true,
  timestamp: true,
  received_at: true,
  source: true,
  category: true,
  group_id: true,
  properties: true,
  traits: true,
  context: true,
  name: true,
  previous_id: true,
};
export const EVENTS_PAGE_FIELDS: Fields<EventsPage> = { events: true, next_cursor: true };
/** `type` is there with `by=event` only. */
export const ROLLUP_ROW_FIELDS: Fields<RollupRow> = { day: true, type: true, key: true, events: true, users: true };
export const HEALTH_FIELDS: Fields<Health> = { status: true };

export function ingestClient(baseUrl: string, writeKey: string): Api {
  return createClient<paths>({ baseUrl, headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` } });
}

export function queryClient(baseUrl: string, readKey: string): Api {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${readKey}` } });
}

/** One track call of a batch, as a typed literal (tsc checks its fields against the generated union). */
export function trackCall(userId: string, event: string, timestamp: string, properties: Record<string, unknown>): BatchEvent {
  return { type: 'track', userId, event, timestamp, properties };
}

/** One identify call of a batch. */
export function identifyCall(userId: string, timestamp: string, traits: Record<string, unknown>): BatchEvent {
  return { type: 'identify', userId, timestamp, traits };
}

/** POST /v1/batch; the status and the reply, typed by the status. */
export async function sendBatch(api: Api, batch: BatchEvent[]) {
  const { data, error, response } = await api.POST('/v1/batch', { body: { batch } });
  return { status: response.status, data, error };
}

/** POST /v1/track with a user id and properties (Segment's most common call). */
export async function track(api: Api, userId: string, event: string, timestamp: string, properties: Record<string, unknown>) {
  const { data, error, response } = await api.POST('/v1/track', { body: { userId, event, timestamp, properties } });
  return { status: response.status, data, error };
}

export type EventsQuery = NonNullable<paths['/v1/users/{userId}/events']['get']['parameters']['query']>;

/** GET /v1/users/{userId}/events with the filters given; the page, or the error reply. */
export async function userEvents(api: Api, userId: string, query: EventsQuery) {
  const { data, error, response } = await api.GET('/v1/users/{userId}/events', { params: { path: { userId }, query } });
  return { status: response.status, data, error };
}

/** GET /v1/rollups/daily. */
export async function dailyRollups(api: Api, by: 'event' | 'category' | 'group', from: string, to: string) {
  const { data, error, response } = await api.GET('/v1/rollups/daily', { params: { query: { by, from, to } } });
  return { status: response.status, data, error };
}

/** GET /healthz (any port). */
export async function healthz(api: Api) {
  const { data, response } = await api.GET('/healthz');
  return { status: response.status, data };
}
