import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { kafkajs } from './kafkajs.js';
import { scheduleCheckPendingRequests } from './timers.js';

const require = createRequire(import.meta.url);

function queue(throttledUntil: number, pending: number) {
  return { throttledUntil, throttleCheckTimeoutId: null as NodeJS.Timeout | null, pending: new Array(pending).fill(0), checkPendingRequests: vi.fn() };
}

describe('kafkajs request queue timer (Node 23+ TimeoutNegativeWarning)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the method kafkajs request queues use once kafkajs is loaded', () => {
    kafkajs();
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string, unknown> };
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).toBe(scheduleCheckPendingRequests);
  });

  it('never passes a negative delay: 1 ms when idle (what Node did with the negative one), 10 ms with requests pending, else the throttle left', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now);
    for (const [q, delay] of [
      [queue(-1, 0), 1],
      [queue(-1, 3), 10],
      [queue(now + 250, 0), 250],
      [queue(now + 250, 2), 250],
    ] as const) {
      spy.mockClear();
      scheduleCheckPendingRequests.call(q);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![1]).toBe(delay);
      clearTimeout(q.throttleCheckTimeoutId!);
    }
  });

  it('schedules one check at a time, and the check runs the queue', async () => {
    const q = queue(-1, 1);
    scheduleCheckPendingRequests.call(q);
    const first = q.throttleCheckTimeoutId;
    scheduleCheckPendingRequests.call(q);
    expect(q.throttleCheckTimeoutId).toBe(first);
    await new Promise((r) => setTimeout(r, 30));
    expect(q.checkPendingRequests).toHaveBeenCalledTimes(1);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });
});
