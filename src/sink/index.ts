export { startSink, type RunningSink, type SinkHooks, type SinkOptions } from './sink.js';
export { parseReplayFrom, ReplayArgumentError, runReplay, type ReplayFrom, type ReplayOptions, type ReplaySummary, type TruncatedPartition } from './replay.js';
export { insertSettings } from './store.js';
