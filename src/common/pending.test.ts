import { describe, expect, it, vi } from 'vitest';
import { Pending } from './pending.js';

describe('Pending', () => {
  it('settles each request with the answer carrying its id, whatever the order', async () => {
    const p = new Pending<string>();
    const sent: number[] = [];
    const a = p.ask((id) => sent.push(id));
    const b = p.ask((id) => sent.push(id));
    expect(sent).toHaveLength(2);
    expect(sent[0]).not.toBe(sent[1]);
    expect(p.resolve(sent[1]!, 'second')).toBe(true);
    expect(p.resolve(sent[0]!, 'first')).toBe(true);
    expect([await a, await b]).toEqual(['first', 'second']);
    expect(p.size).toBe(0);
    expect(p.resolve(sent[0]!, 'again')).toBe(false);
  });

  it('resolves with the timeout value when no answer comes, and ignores a late answer', async () => {
    vi.useFakeTimers();
    try {
      const p = new Pending<number[]>();
      let id = -1;
      const r = p.ask((i) => (id = i), { ms: 2_000, value: [] });
      vi.advanceTimersByTime(2_000);
      expect(await r).toEqual([]);
      expect(p.resolve(id, [1])).toBe(false);
      expect(p.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects one request, or all of them when the other side is gone', async () => {
    const p = new Pending<string>();
    const ids: number[] = [];
    const a = p.ask((i) => ids.push(i));
    const b = p.ask((i) => ids.push(i));
    const c = p.ask((i) => ids.push(i));
    expect(p.reject(ids[0]!, new Error('bad request'))).toBe(true);
    await expect(a).rejects.toThrow('bad request');
    p.rejectAll(new Error('thread exited'));
    await expect(b).rejects.toThrow('thread exited');
    await expect(c).rejects.toThrow('thread exited');
    expect(p.size).toBe(0);
  });
});
