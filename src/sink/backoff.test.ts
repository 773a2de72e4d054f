import { describe, expect, it } from 'vitest';
import { backoffDelay, retrying } from './backoff.js';

describe('backoff', () => {
  it('doubles from base to max, jittered within the upper half', () => {
    const o = { baseMs: 100, maxMs: 1_000 };
    expect(backoffDelay(0, o, () => 0)).toBe(50);
    expect(backoffDelay(0, o, () => 1)).toBe(100);
    expect(backoffDelay(2, o, () => 1)).toBe(400);
    expect(backoffDelay(10, o, () => 0)).toBe(500);
    expect(backoffDelay(60, o, () => 1)).toBe(1_000);
  });

  it('retries until the call succeeds', async () => {
    let calls = 0;
    const out = await retrying(
      async () => {
        if (++calls < 3) throw new Error('down');
        return 'ok';
      },
      { baseMs: 1, maxMs: 2, signal: new AbortController().signal },
    );
    expect([out, calls]).toEqual(['ok', 3]);
  });

  it('stops retrying once aborted, with the abort reason', async () => {
    const c = new AbortController();
    let calls = 0;
    const p = retrying(
      async () => {
        calls++;
        if (calls === 2) c.abort(new Error('stopping'));
        throw new Error('down');
      },
      { baseMs: 1, maxMs: 1, signal: c.signal },
    );
    await expect(p).rejects.toThrow('stopping');
    expect(calls).toBe(2);
  });
});
