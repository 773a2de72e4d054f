// GraphQL on the query port (issue #12): POST /graphql and GET /graphql, added to the query server
// as a route set by src/cli/components.ts.
export { graphqlRoutes, introspectionAllowed, MAX_BODY_BYTES, type GraphqlRoutesOptions } from './routes.js';
export { buildGraphqlSchema, type StreamSource } from './schema.js';
export { SDL } from './sdl.js';
export { costEstimator, depthLimit, STORAGE_COST } from './limits.js';
