export { startSink, type RunningSink, type SinkHooks, type SinkOptions } from './sink.js';
export { insertSettings } from './sinkstore.js';
// What replay shares with the sink: the decode workers and the insert's retry policy.
export { decodeFetch, type OffsetWindow, type RecordFilter } from './decode.js';
export { createDecodePool } from './pool.js';
export { retrying, type BackoffOptions } from './backoff.js';
