// The webhook call of one notification: the JSON body, its headers and signature, one attempt.
//
// Headers of every call:
//   Content-Type: application/json
//   Idempotency-Key, X-Trackhouse-Notification-Id: the notification's id, the same on every
//     attempt and on every replica (a receiver that keeps the ids it handled never acts twice)
//   X-Trackhouse-Attempt: 1, 2, ...
//   X-Trackhouse-Timestamp: Unix seconds of this attempt
//   X-Trackhouse-Signature: t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//     (only when the rule has a secret; verify it and refuse timestamps more than 5 minutes
//     away, so a captured call cannot be replayed later)
//   and the rule's own headers.
import { createHash, createHmac } from 'node:crypto';
import { errorMessage } from '../common/errors.js';
import type { Rule } from './rules.js';
import type { Note } from './store.js';

/** The notification id: a hash of rule, rule version, group, transition and window. */
export function notificationId(rule: Rule, group: string, kind: Note['kind'], windowEnd: number): string {
  return createHash('sha256').update(`${rule.name}\u0000${rule.fingerprint}\u0000${group}\u0000${kind}\u0000${windowEnd}`).digest('hex').slice(0, 32);
}

export function webhookBody(rule: Rule, n: Note): string {
  const groupBy = rule.groupBy.kind === 'property' ? `property:${rule.groupBy.property}` : rule.groupBy.kind;
  const condition = rule.condition.op === 'absent' ? { absent: true } : { [rule.condition.op]: rule.condition.threshold };
  return JSON.stringify({
    id: n.id,
    rule: rule.name,
    status: n.kind,
    group: { by: groupBy, key: groupBy === 'none' ? null : n.group },
    measure: rule.measure,
    ...(rule.property !== null ? { property: rule.property } : {}),
    condition,
    value: n.value,
    window: { type: rule.windowType, start: new Date(n.windowStart).toISOString(), end: new Date(n.windowEnd).toISOString(), time: rule.axis === 'event' ? 'event' : 'arrival' },
    early: n.early,
    decided_at: new Date(n.createdAt).toISOString(),
  });
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type AttemptResult = { ok: true; status: number } | { ok: false; error: string };

/**
 * Ports fetch never connects to (the Fetch standard's "bad ports", as undici lists them): a webhook
 * URL with one failed every attempt with "fetch failed" until the note was dropped; the rules
 * refuse it at start instead.
 */
export const FETCH_BAD_PORTS: ReadonlySet<string> = new Set(
  '1 7 9 11 13 15 17 19 20 21 22 23 25 37 42 43 53 69 77 79 87 95 101 102 103 104 109 110 111 113 115 117 119 123 135 137 139 143 161 179 389 427 465 512 513 514 515 526 530 531 532 540 548 554 556 563 587 601 636 989 990 993 995 1719 1720 1723 2049 3659 4045 4190 5060 5061 6000 6566 6665 6666 6667 6668 6669 6679 6697 10080'.split(' '),
);

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A redirect's answer, for last_error: not followed (a receiver's own answer counts, and a POST
 * sent on to another origin would carry the signature and headers there), with where it points as
 * an origin only (a chat hook's path is its credential), so the user can fix the URL.
 */
function redirectError(status: number, location: string | null, base: string): string {
  let to = '';
  if (location !== null && URL.canParse(location, base)) to = ` (Location: ${new URL(location, base).origin}/…)`;
  return `HTTP ${status}: redirects are not followed${to}; set webhook.url to where it points`;
}

/** What went wrong below HTTP: fetch says only "fetch failed"; its cause has the code and the words. */
function transportError(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (!(cause instanceof Error)) return errorMessage(err);
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== 'string' || cause.message.includes(code)) return cause.message;
  return `${code}: ${cause.message}`;
}

export async function callWebhook(rule: Rule, n: Note, attempt: number, timeoutMs: number, now = Date.now()): Promise<AttemptResult> {
  const body = webhookBody(rule, n);
  const ts = Math.floor(now / 1000);
  const headers: Record<string, string> = {
    ...rule.webhook.headers,
    'content-type': 'application/json',
    'user-agent': 'trackhouse-alerts',
    'idempotency-key': n.id,
    'x-trackhouse-notification-id': n.id,
    'x-trackhouse-attempt': String(attempt),
    'x-trackhouse-timestamp': String(ts),
  };
  if (rule.webhook.secret !== null) headers['x-trackhouse-signature'] = signature(rule.webhook.secret, ts, body);
  try {
    const res = await fetch(rule.webhook.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    if (REDIRECTS.has(res.status)) return { ok: false, error: redirectError(res.status, res.headers.get('location'), rule.webhook.url) };
    return { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    if ((err as { name?: string }).name === 'TimeoutError') return { ok: false, error: `no answer within ${timeoutMs} ms` };
    return { ok: false, error: transportError(err) };
  }
}

/** Backoff before attempt `attempt + 1`: doubling from base to max, each 50-100 % of that (jitter). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}
