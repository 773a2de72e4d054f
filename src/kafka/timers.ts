// kafkajs 2.2.4's RequestQueue#scheduleCheckPendingRequests, replaced (line for line otherwise):
// - it armed a timer even when no request was waiting and nothing was throttled, with a negative
//   delay (throttledUntil starts at -1), which Node runs after 1 ms; the check then armed the next
//   one, forever (tulios/kafkajs#1556, #1704): about a thousand wake-ups a second on every broker
//   connection of every kafkajs client, idle or not. Measured on an idle all-in-one (2026-12-06):
//   the main thread, the view's builder, the stream and the ingest child each spent 3-4 % of a
//   core, most of it in this loop. Now a check is armed only for a request that waits (push()
//   queues it and calls this; a response's fulfillRequest checks the queue) or for a throttle's
//   end, never with a negative delay;
// - on Node 23 and later that negative delay also printed "TimeoutNegativeWarning".
// Installed by ./kafkajs.ts when it first loads kafkajs (with or without the fast path), and only
// on kafkajs 2.2.4.
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
  if (this.throttleCheckTimeoutId) return;
  const throttledFor = this.throttledUntil - Date.now();
  if (this.pending.length === 0 && throttledFor <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL,
  );
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
