// Segment's pixel API, `GET /v1/pixel/<call>?data=<base64 JSON>` (email opens): the JSON is one
// Segment call with its `writeKey`; the answer is a 1x1 GIF.
import type { EventType } from '../../schema/index.js';
import { errorBody } from '../problems.js';
import { GIF_1X1, Refused, isObject, str, type Replies, type SegmentCall, type Translation } from './types.js';

export const PIXEL_CALLS: ReadonlySet<string> = new Set<EventType>(['track', 'page', 'screen', 'identify', 'group', 'alias']);

export function translatePixel(value: unknown, type: EventType): Translation {
  if (!isObject(value)) return { key: undefined, calls: [new Refused('not_an_object', 'data must hold a JSON object', 'data', value)], raw: [value] };
  const call: SegmentCall = { ...value, type };
  return { key: str(value.writeKey), calls: [call], raw: [value] };
}

export const pixelReplies: Replies = {
  done(o) {
    if (o.rejected === null) return { status: 200, contentType: 'image/gif', body: GIF_1X1 };
    const x = o.rejected[0]!;
    return { status: 400, contentType: 'application/json', body: errorBody(x.code, x.error) };
  },
  refused(status, code, message) {
    return { status, contentType: 'application/json', body: errorBody(code, message) };
  },
};
