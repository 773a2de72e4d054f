// What every input format shares: a pure translation from a vendor's payload into Segment-shaped
// calls (what `normalizeEvent` takes, so every format passes the same rules, normalization,
// dedup and rejects as Segment's own endpoints), and the answers in the vendor's own shapes.
//
// Translators never see HTTP: `trackhouse import` feeds them the same payloads from files.
import type { HttpErrorCode } from '../../common/errors.js';
import type { EventProblem, EventProblemCode } from '../problems.js';

/**
 * A Segment call as its HTTP API takes it: `type`, `userId`, `event`, `timestamp`, ...; times are
 * ISO 8601 text or Unix milliseconds (normalizeEvent with `msTimes`).
 */
export type SegmentCall = Record<string, unknown>;

/** A vendor event that cannot become a Segment call, and why (in the vendor's terms). */
export class Refused implements EventProblem {
  constructor(
    readonly code: EventProblemCode,
    readonly message: string,
    /** The vendor's field at fault (Amplitude's 400 lists events by field). */
    readonly field: string,
    /** The vendor event as given, for the rejected topic. */
    readonly raw: unknown,
  ) {}
}

export interface Translation {
  /** The write key the payload itself carries (the vendor's key field), if any. */
  key: string | undefined;
  /**
   * One entry per vendor event, in order: the Segment call, or why not. A call may carry its own
   * `writeKey` (Mixpanel puts the token in each event) that differs from `key`.
   */
  calls: (SegmentCall | Refused)[];
  /** The vendor events as given, for the rejected topic (same order as `calls`). */
  raw: unknown[];
  /**
   * Some calls are PostHog cookieless events (formats/cookieless.ts): their sentinel ids are
   * to be replaced with the visitor's id of the day, which needs the request (source, address).
   */
  cookieless?: boolean;
}

export interface TranslateOptions {
  /** Server time the payload arrived (Unix ms): offsets such as PostHog's `offset` count back from it. */
  receivedAt: number;
  /** Correct device times for clock skew with the client's send time (HTTP: yes; import: no). */
  skew: boolean;
  /**
   * The calls go to normalizeEvent (with msTimes) at once, as at the edge: give them in the form
   * it reads cheapest, with the same records as a result: properties and context as JsonText
   * where the translation can build them as text (Snowplow), a batch's send time parsed once
   * (PostHog). Off, calls hold plain objects and the times as sent (what the translators' own
   * tests read).
   */
  prepared?: boolean;
  /**
   * The request's User-Agent header ('' or undefined: none). Snowplow's collector records it, and
   * enrich takes it as the event's user agent unless the event carries `ua` (the browser tracker
   * never sends `ua`: the browser's header is its user agent).
   */
  userAgent?: string;
}

/** How a request's events fared, for the vendor's answer. */
export interface Outcome {
  accepted: number;
  total: number;
  /** Invalid events by index, with the vendor field at fault when known. */
  rejected: readonly { index: number; code: string; error: string; field?: string }[] | null;
  /** Bytes of the body as received. */
  bodyBytes: number;
  receivedAt: number;
}

export interface VendorReply {
  status: number;
  contentType: string;
  body: string | Buffer;
}

/** A vendor's answers: to a request whose events were taken (or some refused), and to a refusal. */
export interface Replies {
  done(o: Outcome): VendorReply;
  /** A whole-request refusal (code and status from the registry, HTTP_ERRORS), in the vendor's shape. */
  refused(status: number, code: HttpErrorCode, message: string): VendorReply;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string field, or undefined (numbers become their text, as Segment's ids do). */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * A Unix-ms time for a call's `timestamp` / `sentAt`, or undefined when not a finite time in
 * Date's range. Calls carry numbers rather than ISO text (normalizeEvent takes both from
 * translated calls, `msTimes`): a toISOString and a parse less per event.
 */
export function msTime(ms: number): number | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : undefined;
}

export const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
