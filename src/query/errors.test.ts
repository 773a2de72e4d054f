import { describe, expect, it } from 'vitest';
import { DependencyError, HTTP_ERRORS, statementFailed } from '../common/errors.js';
import { DrainingError, InvalidParameterError, OverloadedError, toHttpError, UnauthorizedError } from './errors.js';

describe('toHttpError', () => {
  it('answers a bad parameter with 400 naming it', () => {
    const bad = toHttpError(new InvalidParameterError('limit', 'limit must be an integer from 1 to 1000'));
    expect(bad.status).toBe(400);
    expect(bad.headers).toEqual([]);
    expect(JSON.parse(bad.body)).toEqual({ error: 'invalid_parameter', parameter: 'limit', message: 'limit must be an integer from 1 to 1000' });
  });

  it('answers a missing or unknown read key with 401 and the bearer challenge RFC 6750 asks for', () => {
    const missing = toHttpError(new UnauthorizedError('missing'));
    expect([missing.status, missing.headers]).toEqual([401, [['WWW-Authenticate', 'Bearer realm="trackhouse"']]]);
    expect(JSON.parse(missing.body).error).toBe('unauthorized');
    expect(toHttpError(new UnauthorizedError('invalid')).headers).toEqual([['WWW-Authenticate', 'Bearer realm="trackhouse", error="invalid_token"']]);
  });

  it('tells its three 503s apart: overloaded, draining and ClickHouse not answering, each retriable after a second', () => {
    const answers = [new OverloadedError(10), new DrainingError(), new DependencyError('CLICKHOUSE_QUERY_FAILED', 'socket hang up', { retriable: true })].map(toHttpError);
    for (const a of answers) expect([a.status, a.headers]).toEqual([503, [['Retry-After', '1']]]);
    expect(answers.map((a) => JSON.parse(a.body))).toEqual([
      { error: 'overloaded', message: 'too many queries waiting for ClickHouse (10); retry shortly' },
      { error: 'draining', message: 'the server is shutting down; retry on another instance' },
      { error: 'clickhouse_unavailable', message: 'ClickHouse did not answer the query; retry shortly' },
    ]);
  });

  it('says a ClickHouse without trackhouse\'s tables has not been migrated, and what to run, instead of "did not answer"', () => {
    const unknownTable = Object.assign(new Error("Unknown table expression identifier 'events_daily_by_event' in scope SELECT ..."), { code: '60', type: 'UNKNOWN_TABLE' });
    const err = statementFailed(unknownTable, 'the rollups query', new AbortController().signal, 10_000);
    expect([err.code, err.retriable]).toEqual(['CLICKHOUSE_NOT_MIGRATED', true]);
    expect(err.message).toBe('ClickHouse has no table for the rollups query: its migrations have not run; run `trackhouse migrate` (`trackhouse sink` also applies them at start)');
    const reply = toHttpError(err);
    expect([reply.status, reply.headers]).toEqual([503, [['Retry-After', '1']]]);
    expect(JSON.parse(reply.body)).toEqual({
      error: 'clickhouse_unavailable',
      message: "ClickHouse does not hold trackhouse's tables yet: its migrations have not run (trackhouse migrate); retry once they have",
    });
  });

  it('answers anything else with a 500 that shows none of its detail', () => {
    const internal = toHttpError(new Error('secret detail'));
    expect(internal.status).toBe(500);
    expect(JSON.parse(internal.body)).toEqual({ error: 'internal_error', message: 'internal error' });
  });

  it('takes every status from the one registry', () => {
    for (const err of [new InvalidParameterError('x', 'y'), new UnauthorizedError('missing'), new OverloadedError(1), new DrainingError()]) {
      expect(toHttpError(err).status).toBe(HTTP_ERRORS[err.code]);
    }
  });
});
