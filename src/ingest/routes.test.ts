import { describe, expect, it } from 'vitest';
import { callForPath, isJitsuPath } from './routes.js';

describe('call paths', () => {
  it("names Segment's calls, short and long, with or without a trailing slash", () => {
    expect(callForPath('/v1/track')).toBe('track');
    expect(callForPath('/v1/t/')).toBe('track');
    expect(callForPath('/v1/import')).toBe('batch');
    expect(callForPath('/v1/nope')).toBeUndefined();
  });

  it("names Jitsu's calls, from a browser (/api/s/) and a server (/api/s/s2s/), in full only", () => {
    expect(callForPath('/api/s/page')).toBe('page');
    expect(callForPath('/api/s/identify/')).toBe('identify');
    expect(callForPath('/api/s/s2s/track')).toBe('track');
    expect(callForPath('/api/s/s2s/group/')).toBe('group');
    expect(callForPath('/api/s/t')).toBeUndefined();
    expect(callForPath('/api/s/batch')).toBeUndefined();
    expect(callForPath('/api/s/s2s/')).toBeUndefined();
    expect(callForPath('/api/s/s2s')).toBeUndefined();
    expect(callForPath('/api/track')).toBeUndefined();
    expect([isJitsuPath('/api/s/s2s/track'), isJitsuPath('/api/s/x'), isJitsuPath('/v1/track'), isJitsuPath('/api/x')]).toEqual([true, true, false, false]);
  });
});
