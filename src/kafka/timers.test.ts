import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { kafkajs } from './kafkajs.js';
import { scheduleCheckPendingRequests } from './timers.js';

const require = createRequire(import.meta.url);

function queue(throttledUntil: number, pending: number) {
  return { throttledUntil, throttleCheckTimeoutId: null as NodeJS.Timeout | null, pending: new Array(pending).fill(0), checkPendingRequests: vi.fn() };
}

describe('kafkajs request queue timer', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the method kafkajs request queues use once kafkajs is loaded', () => {
    kafkajs();
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string, unknown> };
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).toBe(scheduleCheckPendingRequests);
  });

  it('arms no timer when no request waits and nothing is throttled; else 10 ms with requests pending, or the throttle left, never a negative delay', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now);
    const idle = queue(-1, 0);
    scheduleCheckPendingRequests.call(idle);
    expect(spy).not.toHaveBeenCalled();
    expect(idle.throttleCheckTimeoutId).toBeNull();
    for (const [q, delay] of [
      [queue(-1, 3), 10],
      [queue(now, 1), 10],
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

  it("leaves an idle kafkajs queue asleep: no check runs after a response when nothing waits (kafkajs 2.2.4's own method ran one every millisecond, forever)", () => {
    kafkajs();
    vi.useFakeTimers();
    try {
      const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: object) => { checkPendingRequests(): void; destroy(): void };
      const noop = () => {};
      const q = new RequestQueue({ maxInFlightRequests: null, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger: { debug: noop, info: noop, warn: noop, error: noop } });
      const checks = vi.spyOn(q, 'checkPendingRequests');
      // What fulfillRequest does with each response.
      q.checkPendingRequests();
      vi.advanceTimersByTime(1000);
      expect(checks).toHaveBeenCalledTimes(1);
      q.destroy();
    } finally {
      vi.useRealTimers();
    }
  });
});
