import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { HTTP_ERRORS, HttpError } from '../common/errors.js';
import { httpErrorReply } from '../common/http.js';
import { ALERTS_PARAMS, parseVolumeRequest, VOLUME_PARAMS } from './api.js';

const NOW = Date.UTC(2026, 11, 3, 12, 30, 15);

function refused(query: string): { status: number; body: unknown } {
  try {
    parseVolumeRequest(query, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    const r = httpErrorReply(err as HttpError);
    return { status: r.status, body: JSON.parse(r.body) };
  }
  throw new Error(`expected ${query} to be refused`);
}

describe('/v1/volume parameters', () => {
  it('refuses each bad parameter with the registry\'s 400 naming it', () => {
    for (const [query, parameter] of [
      ['by=user', 'by'],
      ['window=week', 'window'],
      ['from=2026-12-03T10:00:00', 'from'],
      ['from=2026-12-03&to=2026-12-02', 'from'],
      ['source=a%20b', 'source'],
      ['type=click', 'type'],
      ['by=reason&event=x', 'event'],
      ['limit=5', 'limit'],
      ['by=event&by=type', 'by'],
    ] as const) {
      const r = refused(query);
      expect([query, r.status, r.body]).toMatchObject([query, HTTP_ERRORS.invalid_parameter, { error: 'invalid_parameter', parameter }]);
    }
  });

  it('fills a missing range with the default span up to the end of the current bucket', () => {
    const r = parseVolumeRequest('by=type&window=minute', NOW);
    expect(r).toEqual({ kind: 'volume', q: { by: 'type', window: 'minute', from: Date.UTC(2026, 11, 3, 11, 31), to: Date.UTC(2026, 11, 3, 12, 31), source: null, event: null, type: null } });
  });
});

describe('the OpenAPI document', () => {
  const doc = parseYaml(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, { get?: { parameters?: { name: string }[]; responses: Record<string, unknown> } }>;
  };

  it('lists /v1/volume and /v1/alerts with exactly the parameters the handlers take', () => {
    const names = (path: string) => (doc.paths[path]?.get?.parameters ?? []).map((p) => p.name).sort();
    expect(names('/v1/volume')).toEqual([...VOLUME_PARAMS].sort());
    expect(names('/v1/alerts')).toEqual([...ALERTS_PARAMS].sort());
    for (const path of ['/v1/volume', '/v1/alerts']) expect(Object.keys(doc.paths[path]!.get!.responses).sort()).toEqual(['200', '400', '401', '503']);
  });
});
