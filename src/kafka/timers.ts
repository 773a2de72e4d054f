// kafkajs 2.2.4 on Node 23 and later: RequestQueue#scheduleCheckPendingRequests passes a negative
// delay to setTimeout whenever nothing is throttled (throttledUntil starts at -1), so every
// process printed "TimeoutNegativeWarning: -1796249235112 is a negative number" once on Node 24.
// Node has always run such a timer after 1 ms; this clamps the delay to 1 ms itself, the same
// behaviour without the warning. Installed by ./kafkajs.ts when it first loads kafkajs (with or without the fast path), and
// only on kafkajs 2.2.4 (whose method this replaces line for line).
import { createRequire } from 'node:module';
import { PATCHED_KAFKAJS_VERSION } from './fastpath.js';

const require = createRequire(import.meta.url);

interface RequestQueueLike {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

export function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  let scheduleAt = this.throttledUntil - Date.now();
  if (!this.throttleCheckTimeoutId) {
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, Math.max(1, scheduleAt));
  }
}

let installed: boolean | undefined;

export function installTimerFix(): boolean {
  if (installed !== undefined) return installed;
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== PATCHED_KAFKAJS_VERSION) return (installed = false);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string, unknown> };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return (installed = true);
}
