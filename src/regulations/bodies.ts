// The regulation requests and replies of the admin routes, in trackhouse's shape (POST
// /v1/regulations, after Segment's Config API) and in Segment's Public API shape (POST
// /regulations, docs.segmentapis.com "Deletion and Suppression", as @segment/public-api-sdk-typescript
// sends it), so a Segment user's deletion scripts work with their base path pointed at trackhouse.
// Both end in the same regulation; no reply names a user id, only how many.
import { HttpError, InvalidParameterError } from '../common/errors.js';
import type { HttpErrorReply } from '../common/http.js';
import { REGULATION_TYPES, type Regulation, type RegulationStatus, type RegulationType } from '../erasure/index.js';
import { MAX_ID_LENGTH } from '../schema/index.js';

/** At most this many users per request (Segment's regulations API takes 5000 ids). */
export const MAX_USERS_PER_REGULATION = 5_000;

export interface RegulationRequest {
  type: RegulationType;
  userIds: string[];
}

/** A JSON object, or the error that names what is wrong (`fields`: what it may hold). */
function objectBody(text: string, fields: readonly string[]): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError('malformed_json', 'the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('body', `the body must be a JSON object with ${fields.slice(0, -1).join(', ')} and ${fields.at(-1)!}`);
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!fields.includes(k)) throw new InvalidParameterError(k, `unknown field ${JSON.stringify(k.slice(0, 100))}; allowed: ${fields.join(', ')}`);
  }
  return b;
}

/** `ids` as user ids: a non-empty array of at most MAX_USERS_PER_REGULATION non-empty strings (`field` names it in errors). */
function userIdsOf(ids: unknown, field: string): string[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new InvalidParameterError(field, `${field} must be a non-empty array of user ids`);
  if (ids.length > MAX_USERS_PER_REGULATION) throw new InvalidParameterError(field, `${field} may hold at most ${MAX_USERS_PER_REGULATION} ids per request`);
  for (const [i, id] of ids.entries()) {
    if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
      throw new InvalidParameterError(field, `${field}[${i}] must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
  }
  return ids as string[];
}

/** Validates a POST /v1/regulations body; errors name the field. */
export function parseRegulationBody(text: string): RegulationRequest {
  const b = objectBody(text, ['type', 'user_ids']);
  if (typeof b.type !== 'string' || !(REGULATION_TYPES as readonly string[]).includes(b.type)) {
    throw new InvalidParameterError('type', `type must be one of ${REGULATION_TYPES.join(', ')}`);
  }
  return { type: b.type as RegulationType, userIds: userIdsOf(b.user_ids, 'user_ids') };
}

/** The reply body of a regulation (never the user ids: only how many). */
export function regulationReply(r: Regulation): Record<string, unknown> {
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    actor: r.actor,
    users: r.userKeys.length,
    created_at: new Date(r.createdAt).toISOString(),
    finished_at: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
    counts: r.counts === null ? null : { events: r.counts.events, rollup_days: r.counts.days, view_events: r.counts.viewEvents },
    error: r.error,
  };
}

/**
 * Segment's regulation types trackhouse carries out. Its "internal" variants delete from Segment's
 * own stores and not from destinations; trackhouse has only its own, so they are the same here.
 */
const SEGMENT_TYPES: ReadonlyMap<string, RegulationType> = new Map([
  ['DELETE_ONLY', 'delete'],
  ['DELETE_INTERNAL', 'delete'],
  ['SUPPRESS_ONLY', 'suppress'],
  ['SUPPRESS_WITH_DELETE', 'suppress_with_delete'],
  ['SUPPRESS_WITH_DELETE_INTERNAL', 'suppress_with_delete'],
]);
/** Why the others are refused. */
const SEGMENT_TYPES_REFUSED: ReadonlyMap<string, string> = new Map([
  ['UNSUPPRESS', 'trackhouse does not lift a suppression'],
  ['DELETE_ARCHIVE_ONLY', 'trackhouse keeps no archive apart from its stores; use DELETE_ONLY'],
]);
const SEGMENT_FIELDS = ['regulationType', 'subjectType', 'subjectIds'] as const;

/** Validates a POST /regulations body (Segment's CreateWorkspaceRegulationV1Input); errors name the field. */
export function parseSegmentRegulation(text: string): RegulationRequest {
  const b = objectBody(text, SEGMENT_FIELDS);
  const type = typeof b.regulationType === 'string' ? SEGMENT_TYPES.get(b.regulationType) : undefined;
  if (type === undefined) {
    const refused = typeof b.regulationType === 'string' ? SEGMENT_TYPES_REFUSED.get(b.regulationType) : undefined;
    throw new InvalidParameterError('regulationType', `regulationType must be one of ${[...SEGMENT_TYPES.keys()].join(', ')}${refused ? ` (${b.regulationType as string}: ${refused})` : ''}`);
  }
  if (b.subjectType !== 'USER_ID') {
    throw new InvalidParameterError('subjectType', 'subjectType must be USER_ID: trackhouse regulates users (their events by userId, or anonymousId where they have none)');
  }
  return { type, userIds: userIdsOf(b.subjectIds, 'subjectIds') };
}

/** POST /regulations' answer (CreateWorkspaceRegulation200Response). */
export function segmentCreatedReply(r: Regulation): { data: { regulateId: string } } {
  return { data: { regulateId: r.id } };
}

const SEGMENT_STATUS: Readonly<Record<RegulationStatus, string>> = { running: 'RUNNING', finished: 'FINISHED', failed: 'FAILED' };
/** Segment names a workspace in each regulation; trackhouse has one. */
const SEGMENT_WORKSPACE_ID = 'trackhouse';

/** GET /regulations/{regulateId}'s answer (GetRegulation200Response); no destinations, so no stream statuses. */
export function segmentRegulationReply(r: Regulation): Record<string, unknown> {
  return {
    data: {
      regulation: {
        id: r.id,
        workspaceId: SEGMENT_WORKSPACE_ID,
        overallStatus: SEGMENT_STATUS[r.status],
        createdAt: new Date(r.createdAt).toISOString(),
        ...(r.finishedAt === null ? {} : { finishedAt: new Date(r.finishedAt).toISOString() }),
        streamStatus: [],
      },
    },
  };
}

/**
 * An error answer of the Segment-shaped routes: trackhouse's body with Segment's envelope beside it
 * (`errors`: [{type, message, field, status}]), which the Segment SDK's `unwrap` throws from.
 */
export function segmentErrorBody(reply: Pick<HttpErrorReply, 'status' | 'body'>): string {
  const b = JSON.parse(reply.body) as { error: string; message: string; parameter?: string };
  return JSON.stringify({ ...b, errors: [{ type: b.error, message: b.message, ...(b.parameter === undefined ? {} : { field: b.parameter }), status: reply.status }] });
}
