export { planReplay, ReplayArgumentError, truncationWarning, type ReplayFrom, type ReplayPlan, type TruncatedPartition } from './plan.js';
export { runReplay, type ReplayOptions, type ReplayPartition, type ReplaySummary } from './runner.js';
