import { describe, expect, it } from 'vitest';
import { OverloadedError } from './errors.js';
import { createGate } from './gate.js';

describe('createGate', () => {
  it('runs at most maxConcurrent tasks, queues up to maxQueued in order, refuses the rest', async () => {
    const gate = createGate(2, 2);
    const release: (() => void)[] = [];
    const started: number[] = [];
    let peak = 0;
    const task = (i: number) => () =>
      new Promise<number>((resolve) => {
        started.push(i);
        peak = Math.max(peak, gate.running);
        release.push(() => resolve(i));
      });
    const runs = [0, 1, 2, 3].map((i) => gate.run(task(i)));
    await expect(gate.run(task(4))).rejects.toBeInstanceOf(OverloadedError);
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(gate.queued).toBe(2);
    while (release.length > 0) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect(gate.running).toBe(0);
    expect(gate.queued).toBe(0);
  });

  it('frees its slot when a task fails', async () => {
    const gate = createGate(1, 0);
    await expect(gate.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await gate.run(async () => 7)).toBe(7);
  });
});
