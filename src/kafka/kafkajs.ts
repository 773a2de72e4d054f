// The project's one entry to kafkajs. kafkajs is loaded on first use, after the fast path
// (./fastpath.ts) has been put into Node's require cache, unless that first use asks for kafkajs
// as published (KAFKA_FASTPATH=off: createKafka passes config.kafka.fastPath). Take kafkajs values
// from kafkajs() here, never from 'kafkajs' directly (types may be imported from it). The Node 23+
// timer fix (./timers.ts) goes in either way: it changes no behaviour, only silences a warning.
import { createRequire } from 'node:module';
import { currentFastPath, installKafkajsFastPath, type FastPathStatus } from './fastpath.js';
import { installTimerFix } from './timers.js';

const require = createRequire(import.meta.url);

export type Kafkajs = typeof import('kafkajs');

let loaded: Kafkajs | null = null;
let status: FastPathStatus = { installed: false, reason: 'kafkajs not loaded yet' };

/** kafkajs, loaded with the fast path unless `fastPath` is false. The first call decides. */
export function kafkajs(fastPath = true): Kafkajs {
  if (loaded !== null) return loaded;
  // A test setup may have installed it before (vitest.config.ts); then it is in, whatever is asked.
  const before = currentFastPath();
  status = fastPath || before?.installed ? installKafkajsFastPath() : { installed: false, reason: 'turned off (KAFKA_FASTPATH=off): kafkajs runs as published' };
  installTimerFix();
  loaded = require('kafkajs') as Kafkajs;
  return loaded;
}

/** Whether the kafkajs this process runs has the fast path, and why (not). */
export function fastPathStatus(): FastPathStatus {
  return status;
}

/** kafkajs's text of the broker errors named by type (its protocol/error.js table; client.test.ts pins them). */
export function protocolErrorMessages(types: readonly string[]): string[] {
  kafkajs();
  const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: { type: string; message: string }[] };
  return errorCodes.filter((e) => types.includes(e.type)).map((e) => e.message);
}
