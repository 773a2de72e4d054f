// Waiting for something that may never end (a client library's disconnect against a broker that is
// gone, a copy that may lag): at most so long, and never leaving a timer behind.

/**
 * Resolves once `p` has settled (its failure included) or `ms` have passed, whichever is first:
 * true when `p` settled in time. Never rejects; the timer does not hold the process open.
 */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  const settled = p.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
