// Public surface of the query API: the server entry for `trackhouse query` and the all-in-one,
// and the pieces tests and benchmarks drive directly.
export { startQuery, type QueryOptions, type QueryReader, type QueryRoutes, type QueryServer, type RestEventsRequest, type RouteGuard, type ViewPage } from './server.js';
export { EVENT_FIELDS, FIRST_TEXT_FIELD, ROW_CANONICAL, ROW_HEADER, ROW_NO_LAYOUT } from '../view/render.js';
export { cursorsOf, scopeFingerprint, scopeText } from './cursor.js';
export { eventsRequest, parseEventsRequest, parseRollupsRequest, type EventsRequest, type Limits, type RollupsRequest } from './params.js';
export { userSegment } from './forward.js';
export { dependencyMessage, InvalidParameterError, UnauthorizedError, toHttpError } from './errors.js';
