// POST/GET /graphql against the GraphQL-over-HTTP spec, as graphql-http's own audit suite checks
// a server from outside (`auditServer`: methods, media types, parameters, status codes, 61 audits
// of MUST, SHOULD and MAY), with the read key added to every request. The routes around
// graphql-http's handler (the body readers of fastbody.ts, the 415 for encoded bodies, persisted
// queries, the guard) must not cost any audit. Some audits ask `__type` with a variable: with
// introspection off they get graphql-js's refusal, which is the setting doing its job.
import { auditServer, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_KEY, startHarness, type Harness } from './query-helpers.js';

/** The audit's fetch, with the read key: every audit request is otherwise refused with a 401. */
function withReadKey(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${READ_KEY}`);
  return fetch(input, { ...init, headers });
}

async function failures(results: AuditResult[]): Promise<{ id: string; name: string; reason: string; status?: number; body?: string }[]> {
  const out = [];
  for (const r of results) {
    if (r.status === 'ok') continue;
    out.push({ id: r.id, name: r.name, reason: r.reason, status: r.response?.status, body: await r.response?.text() });
  }
  return out;
}

/** A query server with GraphQL for the enclosing describe block (one chDB session per process: one block after the other). */
function serverWith(introspection: 'on' | 'off'): () => Harness {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await startHarness({ graphql: true, env: { GRAPHQL_INTROSPECTION: introspection } });
  });
  afterAll(async () => {
    await h?.close();
  });
  return () => h!;
}

describe('GraphQL over HTTP audit, introspection on', () => {
  const server = serverWith('on');

  it('passes every audit, MUST, SHOULD and MAY', async () => {
    const results = await auditServer({ url: `${server().base}/graphql`, fetchFn: withReadKey });
    expect(results.length).toBeGreaterThanOrEqual(61);
    expect(await failures(results)).toEqual([]);
  });
});

describe('GraphQL over HTTP audit, introspection off', () => {
  const server = serverWith('off');

  it('fails only the audits that ask __type, each with the introspection refusal', async () => {
    const results = await auditServer({ url: `${server().base}/graphql`, fetchFn: withReadKey });
    const failed = await failures(results);
    // 28B9 and 6A70 ask `query Type($name: String!) { __type(name: $name) { name } }` accepting
    // application/json (200 with errors), 2EA1 and D6D5 the same accepting
    // application/graphql-response+json (400: a validation error).
    expect(failed.map((f) => f.id).sort()).toEqual(['28B9', '2EA1', '6A70', 'D6D5']);
    for (const f of failed) {
      expect([200, 400]).toContain(f.status);
      expect(f.body).toMatch(/introspection/i);
    }
  });
});
