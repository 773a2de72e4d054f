// The dashboard: a page served by the query process at GET /dashboard, and the JSON it reads
// that the query API does not already serve (GET /v1/pipeline: ingest health and sink lag).
export { addDashboardRoutes, CONTENT_SECURITY_POLICY, PAGE_PATH, type DashboardOptions } from './routes.js';
export { createPipelineReader, type PipelineReader, type PipelineStatus } from './pipeline.js';
export { loadAssets, type Assets } from './assets.js';
