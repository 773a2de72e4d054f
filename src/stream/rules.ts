// The alert rules file (TRACKHOUSE_ALERTS): YAML or JSON, read and validated once at start. Every
// problem is reported with the rule's name (or position) and the field, all at once, so one run
// shows every mistake. See docs/architecture/stream.md for the format and an example.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { PROPERTY_NAME, SOURCE_NAME, SOURCE_NAME_RULE } from '../config/index.js';
import { EVENT_TYPES, type EventType } from '../schema/index.js';
import { FETCH_BAD_PORTS } from './webhook.js';
import type { Condition, MeasureKind, WindowSpec } from './window.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const UNITS: Record<string, number> = { s: 1_000, m: MINUTE, h: 60 * MINUTE, d: DAY };

/** "90s", "10m", "1h", "1d" (or a number of milliseconds) -> ms. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+)\s*(s|m|h|d)\s*$/.exec(v);
  return m ? Number(m[1]) * UNITS[m[2]!]! : null;
}

const duration = (what: string, min: number, max: number) =>
  z.unknown().transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `${what}: expected a duration such as 30s, 10m, 1h, 1d` });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `${what}: must be from ${fmt(min)} to ${fmt(max)}` });
      return z.NEVER;
    }
    return ms;
  });

function fmt(ms: number): string {
  for (const [u, n] of [['d', DAY], ['h', 60 * MINUTE], ['m', MINUTE], ['s', 1_000]] as const) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}

/** A value or a non-empty list of them; `what` says what a value is when one is not (zod's own is "Invalid input"). */
const oneOrMany = <T extends z.ZodType>(t: T, what: string) =>
  z.union([t, z.array(t).min(1)], { error: `expected ${what}, or a list of them` }).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const text = z.string().min(1).max(8192);

/**
 * Headers every call sets itself (webhook.ts) or that fetch manages: a rule's own would be
 * appended to ours ("text/plain, application/json"; an Idempotency-Key that is not the id) or make
 * every call fail (a Content-Length that is not the body's, Transfer-Encoding, Expect).
 */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'expect', 'te', 'trailer', 'upgrade', 'user-agent', 'idempotency-key']);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** What fetch sends as a header value: ISO-8859-1 text, tabs but no line breaks or other control characters. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A rule's webhook headers; problems name the header, never quote its value (often a credential). */
const webhookHeaders = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) issue('not a valid header name');
    else if (RESERVED_HEADERS.has(lower) || lower.startsWith('x-trackhouse-')) issue('trackhouse sets this header on every call; leave it out');
    else if (!HEADER_VALUE.test(value)) issue('a header value must be ISO-8859-1 text without line breaks or control characters');
  }
});

const webhookSchema = z.strictObject({
  // fetch refuses a URL with credentials, quoting it whole in its error (the note's last_error).
  url: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .refine((u) => {
      // z.url's own issue already says what is wrong with a URL that does not parse; its
      // refinements still run (zod does not stop at a failed check), and new URL would throw.
      if (!URL.canParse(u)) return true;
      const { username, password } = new URL(u);
      return username === '' && password === '';
    }, 'holds a user name or password, which is not sent from a URL: send them in webhook.headers (Authorization: Basic ...)')
    .refine((u) => !URL.canParse(u) || !FETCH_BAD_PORTS.has(new URL(u).port), {
      error: (issue) => `port ${new URL(issue.input as string).port} is one fetch never connects to (the Fetch standard's "bad ports": 6000, 10080, 5060, ...); let the receiver listen on another port`,
    }),
  headers: webhookHeaders.optional(),
  /** HMAC-SHA256 key of the X-Trackhouse-Signature header; no header without it. */
  secret: z.string().min(16, 'a signing secret needs at least 16 characters').optional(),
});

/**
 * The schema of one rule, for windows in whole `unitMs` (ALERTS_MIN_WINDOW_MS: 1 minute unless
 * set lower, which tests do to run windows in seconds).
 */
function makeRuleSchema(unitMs: number) {
  const units = unitMs === MINUTE ? 'whole minutes' : `whole multiples of ${fmt(unitMs)}`;
  return z
    .strictObject({
      name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 letters, digits, dots, underscores or dashes'),
      measure: z.enum(['count', 'users', 'sum', 'rejected', 'rejected_ratio']).default('count'),
      /** The property summed (measure: sum). */
      property: z.string().regex(PROPERTY_NAME, 'not a property name (1-128 of A-Z a-z 0-9 _ $ @ . -)').optional(),
      filter: z
        .strictObject({
          source: oneOrMany(z.string().regex(SOURCE_NAME, `not a source name (${SOURCE_NAME_RULE})`), `a source name (${SOURCE_NAME_RULE})`).optional(),
          type: oneOrMany(z.enum(EVENT_TYPES), `an event type (${EVENT_TYPES.join(', ')})`).optional(),
          event: oneOrMany(text, 'an event name (1-8192 characters)').optional(),
          /** Rejected records only: their error_code header. */
          reason: oneOrMany(text, 'an error code such as invalid_event').optional(),
        })
        .default({}),
      group_by: z
        .string()
        .regex(/^(none|source|user|reason|property:[A-Za-z0-9_$@.-]{1,128})$/, 'expected none, source, user, reason or property:<name>')
        .default('none'),
      window: z.strictObject({
        type: z.enum(['tumbling', 'sliding']),
        size: duration('size', unitMs, DAY),
        /** Sliding: distance between window ends (default: the unit, 1m). */
        every: duration('every', unitMs, DAY).optional(),
      }),
      condition: z.union([
        z.strictObject({ above: z.number().finite() }),
        z.strictObject({ below: z.number().finite() }),
        z.strictObject({ absent: z.literal(true, { error: 'absent: expected true' }) }),
      ], { error: 'expected one of {above: N}, {below: N}, {absent: true}' }),
      lateness: duration('lateness', 0, 7 * DAY).optional(),
      /** Grouped below/absent rules: a group with no event for this long is forgotten (default 7d). */
      forget_after: duration('forget_after', MINUTE, 400 * DAY).optional(),
      /** Most groups one rule tracks at once (default 100000); more are counted, not tracked. */
      max_groups: z.number().int().min(1).max(10_000_000).optional(),
      webhook: webhookSchema,
    })
    .superRefine((r, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: path.split('.'), message });
      const rejectedOnly = r.measure === 'rejected';
      const mixed = r.measure === 'rejected_ratio';
      if (r.measure === 'sum' && r.property === undefined) issue('property', 'measure sum needs the property to sum, e.g. property: total');
      if (r.measure !== 'sum' && r.property !== undefined) issue('property', `only measure sum takes a property (measure is ${r.measure})`);
      if ((rejectedOnly || mixed) && (r.filter.type || r.filter.event)) {
        issue('filter', `measure ${r.measure} counts rejected records, which have no type or event name: filter by source (or reason) only`);
      }
      if (!rejectedOnly && !mixed && r.filter.reason) issue('filter.reason', 'only measures rejected and rejected_ratio filter by reason');
      if (mixed && r.filter.reason) issue('filter.reason', 'rejected_ratio divides by every event of the source: it takes no reason filter');
      if ((rejectedOnly || mixed) && (r.group_by === 'user' || r.group_by.startsWith('property:'))) {
        issue('group_by', `rejected records have no user or properties: group measure ${r.measure} by none, source${rejectedOnly ? ' or reason' : ''}`);
      }
      if (r.group_by === 'reason' && !rejectedOnly) issue('group_by', 'only measure rejected groups by reason');
      if ('absent' in r.condition && r.measure !== 'count') issue('condition', `absent means "no events at all": it takes measure count (is ${r.measure})`);
      const size = r.window.size;
      if (r.window.type === 'tumbling' && r.window.every !== undefined) issue('window.every', 'only sliding windows take every');
      if (size % unitMs !== 0) issue('window.size', `must be ${units}`);
      if (r.window.type === 'sliding') {
        const every = r.window.every ?? unitMs;
        if (every % unitMs !== 0 || size % every !== 0 || every > size) issue('window.every', `must be ${units} and divide the size (${fmt(size)})`);
      }
    });
}

type RuleSchema = ReturnType<typeof makeRuleSchema>;
const ruleSchemas = new Map<number, RuleSchema>();
const ruleSchemaFor = (unitMs: number): RuleSchema => {
  let s = ruleSchemas.get(unitMs);
  if (s === undefined) ruleSchemas.set(unitMs, (s = makeRuleSchema(unitMs)));
  return s;
};

const fileSchema = z.strictObject({ rules: z.array(z.unknown()) });

export type GroupBy = { kind: 'none' | 'source' | 'user' | 'reason' } | { kind: 'property'; property: string };

export interface Rule {
  readonly name: string;
  /** Changes when anything but the webhook changes: the rule's state is then started afresh. */
  readonly fingerprint: string;
  readonly measure: MeasureKind;
  readonly property: string | null;
  readonly filter: {
    readonly sources: ReadonlySet<string> | null;
    readonly types: ReadonlySet<EventType> | null;
    readonly events: ReadonlySet<string> | null;
    readonly reasons: ReadonlySet<string> | null;
  };
  readonly groupBy: GroupBy;
  readonly windowType: 'tumbling' | 'sliding';
  readonly spec: WindowSpec;
  readonly condition: Condition;
  /** Time axis: event time, or arrival (received_at) for "no events" rules. */
  readonly axis: 'event' | 'received';
  /** Which records feed it. */
  readonly reads: { events: boolean; rejected: boolean };
  readonly forgetAfterMs: number;
  readonly maxGroups: number;
  readonly webhook: { readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly secret: string | null };
  /** The rule as written (the secret left out), for GET /v1/alerts. */
  readonly definition: Record<string, unknown>;
}

export interface RuleDefaults {
  /** STREAM_ALLOWED_LATENESS_MS. */
  latenessMs: number;
  /** ALERTS_MIN_WINDOW_MS: the shortest window; sizes and steps are whole multiples of it (default 1 minute). */
  unitMs?: number;
}

/** Reads and validates the rules file; a ConfigError names the file, each rule and field. */
export function loadRules(file: string, defaults: RuleDefaults): Rule[] {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`TRACKHOUSE_ALERTS: cannot read ${file}: ${(err as Error).message}`, { variable: 'TRACKHOUSE_ALERTS' });
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(raw) : parseYaml(raw, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`TRACKHOUSE_ALERTS: ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { variable: 'TRACKHOUSE_ALERTS' });
  }
  return parseRules(doc, defaults, file);
}

/** Validates a parsed rules document (exported for tests). */
export function parseRules(doc: unknown, defaults: RuleDefaults, file = 'rules'): Rule[] {
  const problems: string[] = [];
  const top = fileSchema.safeParse(doc ?? { rules: [] });
  if (!top.success) {
    throw new ConfigError(`TRACKHOUSE_ALERTS: ${file}: expected an object with a list "rules" (${top.error.issues.map((i) => i.message).join('; ')})`, { variable: 'TRACKHOUSE_ALERTS' });
  }
  const rules: Rule[] = [];
  const names = new Set<string>();
  top.data.rules.forEach((entry, i) => {
    const label = ruleLabel(entry, i);
    const parsed = ruleSchemaFor(defaults.unitMs ?? MINUTE).safeParse(entry);
    // A name used before is a problem of its own, whether or not either rule has others.
    const name = (entry as { name?: unknown } | null)?.name;
    const repeated = typeof name === 'string' && names.has(name);
    if (typeof name === 'string') names.add(name);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? issue.path.join('.') : '(rule)';
        problems.push(`${label}: ${field}: ${issue.message}`);
      }
    }
    if (repeated) problems.push(`${label}: name: another rule is called "${(name as string).slice(0, 64)}"`);
    if (parsed.success && !repeated) rules.push(compile(parsed.data, defaults));
  });
  if (problems.length > 0) {
    throw new ConfigError(`TRACKHOUSE_ALERTS: ${file} has invalid rules:\n  ${problems.join('\n  ')}`, { variable: 'TRACKHOUSE_ALERTS', problems });
  }
  return rules;
}

function ruleLabel(entry: unknown, i: number): string {
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? `rule "${name.slice(0, 64)}" (#${i + 1})` : `rule #${i + 1}`;
}

type Parsed = z.output<RuleSchema>;

/**
 * A webhook's URL as /v1/alerts shows it to read-key holders: its origin, `…` for the rest. A
 * chat hook's path (Slack's /services/T/B/<token>) or query (?token=) is its credential (a user
 * and password are refused in it); header values and the secret are not shown either.
 */
function shownUrl(url: string): string {
  const u = new URL(url);
  return u.pathname === '/' && u.search === '' ? u.origin : `${u.origin}/…`;
}

function compile(r: Parsed, defaults: RuleDefaults): Rule {
  const absent = 'absent' in r.condition;
  const condition: Condition = 'above' in r.condition ? { op: 'above', threshold: r.condition.above } : 'below' in r.condition ? { op: 'below', threshold: r.condition.below } : { op: 'absent', threshold: 0 };
  const step = r.window.type === 'tumbling' ? r.window.size : (r.window.every ?? defaults.unitMs ?? MINUTE);
  // Arrival time runs with the watermark, which already waits for idle partitions: no lateness.
  const lateness = absent ? 0 : (r.lateness ?? defaults.latenessMs);
  const groupBy: GroupBy = r.group_by.startsWith('property:') ? { kind: 'property', property: r.group_by.slice('property:'.length) } : { kind: r.group_by as 'none' | 'source' | 'user' | 'reason' };
  const { webhook, ...rest } = r;
  const definition: Record<string, unknown> = { ...rest, webhook: { url: shownUrl(webhook.url), headers: Object.keys(webhook.headers ?? {}), signed: webhook.secret !== undefined } };
  const identity = JSON.stringify([r.measure, r.property ?? null, r.filter, r.group_by, r.window.type, r.window.size, step, condition, lateness]);
  return {
    name: r.name,
    fingerprint: createHash('sha256').update(identity).digest('hex').slice(0, 16),
    measure: r.measure,
    property: r.property ?? null,
    filter: {
      sources: r.filter.source ? new Set(r.filter.source) : null,
      types: r.filter.type ? new Set(r.filter.type) : null,
      events: r.filter.event ? new Set(r.filter.event) : null,
      reasons: r.filter.reason ? new Set(r.filter.reason) : null,
    },
    groupBy,
    windowType: r.window.type,
    spec: { size: r.window.size, step, lateness },
    condition,
    axis: absent ? 'received' : 'event',
    reads: { events: r.measure !== 'rejected', rejected: r.measure === 'rejected' || r.measure === 'rejected_ratio' },
    forgetAfterMs: r.forget_after ?? 7 * DAY,
    maxGroups: r.max_groups ?? 100_000,
    webhook: { url: webhook.url, headers: webhook.headers ?? {}, secret: webhook.secret ?? null },
    definition,
  };
}
