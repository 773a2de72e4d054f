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
    return { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { ok: false, error: `no answer within ${timeoutMs} ms` };
    return { ok: false, error: e.cause?.code ?? errorMessage(err) };
  }
}

/** Backoff before attempt `attempt + 1`: doubling from base to max, each 50-100 % of that (jitter). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}
