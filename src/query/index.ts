// Public surface of the query API: the server entry for `trackhouse query` and the all-in-one,
// and the pieces tests and benchmarks drive directly.
export { startQuery, type QueryOptions, type QueryReader, type QueryRoutes, type QueryServer, type RestEventsRequest, type RouteGuard } from './server.js';
export { cursorsOf } from './cursor.js';
export { parseEventsRequest, parseRollupsRequest, readQuery, type EventsRequest, type Limits, type RollupsRequest } from './params.js';
export { InvalidParameterError, UnauthorizedError, toHttpError } from './errors.js';
