// The caller's address, for context.ip (Segment fills it from the request when an event has none).
// Read in the route handler, while the uWS request and response are valid.
import { isIP } from 'node:net';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export type ClientIpMode = 'socket' | 'forwarded' | 'off';

/** The peer's address as text; IPv4 peers of a dual-stack socket without their ::ffff: prefix. */
function peer(res: HttpResponse): string | null {
  const text = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  if (text === '') return null;
  return text.startsWith('::ffff:') && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
}

/**
 * `forwarded`: the first X-Forwarded-For address (the client, as the first proxy saw it), when it
 * is an IP address; otherwise, and in `socket` mode, the peer. `off`: null.
 */
export function clientIp(mode: ClientIpMode, res: HttpResponse, req: HttpRequest): string | null {
  if (mode === 'off') return null;
  if (mode === 'forwarded') {
    const header = req.getHeader('x-forwarded-for');
    if (header !== '') {
      const comma = header.indexOf(',');
      const first = (comma < 0 ? header : header.slice(0, comma)).trim();
      if (isIP(first) !== 0) return first;
    }
  }
  return peer(res);
}
