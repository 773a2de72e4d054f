import { describe, expect, it } from 'vitest';
import { settledWithin } from './wait.js';

describe('settledWithin', () => {
  it('is true for a promise that resolves or rejects in time', async () => {
    expect(await settledWithin(Promise.resolve(1), 1_000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('no')), 1_000)).toBe(true);
  });

  it('is false once the time is up for a promise that never settles', async () => {
    expect(await settledWithin(new Promise(() => {}), 20)).toBe(false);
  });
});
