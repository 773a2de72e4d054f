// Public surface of the query API: the server entry for `trackhouse query` and the all-in-one,
// and the pieces tests and benchmarks drive directly.
export { startQuery, type QueryOptions, type QueryRoutes, type QueryServer, type RouteGuard } from './server.js';
export { parseEventsRequest, parseRollupsRequest, type EventsRequest, type RollupsRequest } from './params.js';
export { InvalidParameterError, UnauthorizedError } from './errors.js';
