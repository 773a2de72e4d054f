import { describe, expect, it } from 'vitest';
import { WriteKeys } from './auth.js';

const keys = new WriteKeys(new Map([['wk-1', 'web'], ['wk-2', 'ios']]));
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

describe('write keys', () => {
  it('reads the key from HTTP Basic auth as the SDKs send it, with or without password or colon', () => {
    expect(keys.fromHeader(basic('wk-1:'))).toEqual({ kind: 'ok', source: 'web' });
    expect(keys.fromHeader(basic('wk-2'))).toEqual({ kind: 'ok', source: 'ios' });
    expect(keys.fromHeader(basic('wk-1:any-password'))).toEqual({ kind: 'ok', source: 'web' });
    expect(keys.fromHeader(`basic   ${Buffer.from('wk-1:').toString('base64')}`)).toEqual({ kind: 'ok', source: 'web' });
  });

  it('tells a missing key from an unknown one', () => {
    expect(keys.fromHeader('')).toEqual({ kind: 'none' });
    expect(keys.fromHeader(basic('nope:'))).toEqual({ kind: 'unknown' });
    expect(keys.fromHeader('Bearer wk-1')).toEqual({ kind: 'unknown' });
    expect(keys.fromHeader(basic(':'))).toEqual({ kind: 'none' });
    expect(keys.fromBody(undefined)).toEqual({ kind: 'none' });
    expect(keys.fromBody('')).toEqual({ kind: 'none' });
    expect(keys.fromBody('wk-2')).toEqual({ kind: 'ok', source: 'ios' });
    expect(keys.fromBody('wk-3')).toEqual({ kind: 'unknown' });
    expect(keys.fromBody(123)).toEqual({ kind: 'unknown' });
  });

  it("reads Jitsu's X-Write-Key: the key whole, or the id part of its key:secret", () => {
    expect(keys.fromWriteKeyHeader('wk-1')).toEqual({ kind: 'ok', source: 'web' });
    expect(keys.fromWriteKeyHeader('wk-2:any-secret')).toEqual({ kind: 'ok', source: 'ios' });
    expect(keys.fromWriteKeyHeader('wk-2:')).toEqual({ kind: 'ok', source: 'ios' });
    expect(keys.fromWriteKeyHeader('')).toEqual({ kind: 'none' });
    expect(keys.fromWriteKeyHeader('nope:wk-1')).toEqual({ kind: 'unknown' });
    expect(keys.fromWriteKeyHeader(':wk-1')).toEqual({ kind: 'unknown' });
    const colon = new WriteKeys(new Map([['id:secret', 'jitsu']]));
    expect(colon.fromWriteKeyHeader('id:secret')).toEqual({ kind: 'ok', source: 'jitsu' });
    expect(colon.fromWriteKeyHeader('id:other')).toEqual({ kind: 'unknown' });
  });
});
