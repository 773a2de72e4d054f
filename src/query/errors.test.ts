import { describe, expect, it } from 'vitest';
import { DependencyError } from '../common/errors.js';
import { DrainingError, InvalidParameterError, OverloadedError, toHttpError, UnauthorizedError } from './errors.js';

describe('toHttpError', () => {
  it('maps each error to its status, headers and a JSON body with a stable code', () => {
    const bad = toHttpError(new InvalidParameterError('limit', 'limit must be an integer from 1 to 1000'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ error: 'invalid_parameter', parameter: 'limit', message: 'limit must be an integer from 1 to 1000' });

    const missing = toHttpError(new UnauthorizedError('missing'));
    expect([missing.status, missing.headers]).toEqual([401, [['WWW-Authenticate', 'Bearer realm="trackhouse"']]]);
    expect(toHttpError(new UnauthorizedError('invalid')).headers[0]![1]).toContain('error="invalid_token"');

    for (const e of [new OverloadedError(10), new DrainingError(), new DependencyError('CLICKHOUSE_QUERY_FAILED', 'x', { retriable: true })]) {
      const h = toHttpError(e);
      expect(h.status).toBe(503);
      expect(h.headers).toContainEqual(['Retry-After', '1']);
      expect(typeof JSON.parse(h.body).error).toBe('string');
    }

    const internal = toHttpError(new Error('secret detail'));
    expect(internal.status).toBe(500);
    expect(internal.body).not.toContain('secret');
  });
});
