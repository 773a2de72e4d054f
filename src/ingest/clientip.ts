// The caller's address, for context.ip (Segment fills it from the request when an event has none).
// The header is read in the route handler; the peer's address only when an event has no ip of its
// own, while the response is still open.
import { isIP } from 'node:net';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export type ClientIpMode = 'socket' | 'forwarded' | 'off';

/** The last peer's address bytes (as uWS gives them) and its text: most requests come from the peer before. */
let lastBytes = new Uint8Array(0);
let lastText: string | null = null;

/**
 * The peer's address as text; IPv4 peers of a dual-stack socket without their ::ffff: prefix.
 * Per request (single events: ~3 % of the edge's CPU before): the bytes are compared with the
 * last peer's in JS, and only a new peer pays for the Buffer, the decode and isIP.
 */
function peer(res: HttpResponse): string | null {
  const bytes = new Uint8Array(res.getRemoteAddressAsText());
  const n = bytes.length;
  if (n === lastBytes.length) {
    let i = 0;
    while (i < n && bytes[i] === lastBytes[i]) i++;
    if (i === n) return lastText;
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('latin1');
  const out = text === '' ? null : text.startsWith('::ffff:') && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
  lastBytes = bytes.slice();
  lastText = out;
  return out;
}

/** clientIp's answer when the address is the peer's: read with peerAddress() only if an event needs it. */
export const PEER = Symbol('peer');

/**
 * `forwarded`: the first X-Forwarded-For address (the client, as the first proxy saw it), when it
 * is an IP address; otherwise, and in `socket` mode, the peer (PEER). `off`: null. Read in the
 * route handler (the header is gone after it).
 */
export function clientIp(mode: ClientIpMode, req: HttpRequest): string | typeof PEER | null {
  if (mode === 'off') return null;
  if (mode === 'forwarded') {
    const header = req.getHeader('x-forwarded-for');
    if (header !== '') {
      const comma = header.indexOf(',');
      const first = (comma < 0 ? header : header.slice(0, comma)).trim();
      if (isIP(first) !== 0) return first;
    }
  }
  return PEER;
}

/**
 * Whether a request's User-Agent names one of Segment's server libraries: analytics-python
 * (`analytics-python/<v>`), analytics-go (`analytics-go (version: <v>)`), analytics-java
 * (`analytics-java/<v>`), @segment/analytics-node (`analytics-node-next/latest`), the older
 * analytics-node (`analytics-node/<v>`, which rudder-sdk-node copied), analytics-ruby
 * (`analytics-ruby/<v>`), analytics-php (`analytics-php/<v>`, its context.library) and Analytics.NET
 * (`Analytics.NET/<v>`; it also builds for Xamarin and Unity, but Segment catalogs it, and its users
 * run it, as a server library). Segment fills context.ip from the request "for client side events only"
 * (Segment spec, common fields): these run on the site's backend, whose address is not the user's,
 * so none is filled for them (NormalizeContext.ipNeedsChannel: RudderStack's SDKs, which send the
 * same User-Agents, mark their calls with `channel`, and theirs get it, as RudderStack's server
 * fills it). Not here: the mobile libraries (analytics-ios/ from analytics-swift too,
 * analytics-android/, analytics-kotlin/, analytics-flutter/), whose address Segment fills, and
 * Analytics-CSharp, which sends no User-Agent of its own.
 */
export function segmentServerLibrary(userAgent: string): boolean {
  return (
    userAgent.startsWith('analytics-python/') ||
    userAgent.startsWith('analytics-go (') ||
    userAgent.startsWith('analytics-java/') ||
    userAgent.startsWith('analytics-node-next/') ||
    userAgent.startsWith('analytics-node/') ||
    userAgent.startsWith('analytics-ruby/') ||
    userAgent.startsWith('analytics-php/') ||
    userAgent.startsWith('Analytics.NET/')
  );
}

/** The peer's address of a request not yet answered (uWS asks the kernel: getpeername). */
export const peerAddress = peer;

/**
 * An address with its last part zeroed, as Jitsu's `stripLastOctet` stores it: IPv4's last octet
 * (203.0.113.9 -> 203.0.113.0), IPv6's last group (2001:db8::7 -> 2001:db8::0); anything else as it is.
 */
export function withoutLastPart(ip: string): string {
  const v = isIP(ip);
  if (v === 0) return ip;
  // An IPv6 address may end in an IPv4 one (::ffff:203.0.113.9): its last octet is the last part.
  const dot = ip.lastIndexOf('.');
  return dot >= 0 ? `${ip.slice(0, dot)}.0` : `${ip.slice(0, ip.lastIndexOf(':'))}:0`;
}
