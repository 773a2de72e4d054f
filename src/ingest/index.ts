export { startIngest, type IngestHandle, type IngestOptions } from './start.js';
export { IngestEdge, type EdgeDeps } from './edge.js';
export { CALLS, type CallKind } from './routes.js';
