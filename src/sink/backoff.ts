// Jittered exponential backoff ("full jitter"): attempt n waits a random time in
// [base * 2^n / 2, base * 2^n], capped at max, so many sinks retrying one ClickHouse do not
// hammer it in step.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after ms, or rejects with signal.reason as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls fn until it resolves, waiting backoffDelay() between attempts. Once `signal` is aborted,
 * a failed attempt is not retried: the promise rejects with signal.reason.
 */
export async function retrying<T>(
  fn: () => Promise<T>,
  o: BackoffOptions & { signal: AbortSignal; onRetry?(err: unknown, attempt: number, waitMs: number): void },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason;
      const wait = backoffDelay(attempt, o);
      o.onRetry?.(err, attempt + 1, wait);
      await sleep(wait, o.signal);
    }
  }
}
