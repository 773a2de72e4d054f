import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadRules, parseDuration, parseRules } from './rules.js';

const defaults = { latenessMs: 60_000 };
const hook = { url: 'http://127.0.0.1:9999/hook' };

function problems(doc: unknown): string {
  try {
    parseRules(doc, defaults);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the rules to be refused');
}

describe('rules file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the seeds' example from YAML: a user's order total for the day above a line", () => {
    const file = path.join(dir, 'alerts.yaml');
    writeFileSync(
      file,
      `rules:
  - name: big-spender
    measure: sum
    property: total
    filter: { type: track, event: Order Completed }
    group_by: user
    window: { type: tumbling, size: 1d }
    condition: { above: 1000 }
    webhook:
      url: https://hooks.example.com/trackhouse
      headers: { Authorization: Bearer abc }
      secret: 0123456789abcdef0123
`,
    );
    const [r] = loadRules(file, defaults);
    expect(r).toMatchObject({
      name: 'big-spender',
      measure: 'sum',
      property: 'total',
      groupBy: { kind: 'user' },
      windowType: 'tumbling',
      spec: { size: 86_400_000, step: 86_400_000, lateness: 60_000 },
      condition: { op: 'above', threshold: 1000 },
      axis: 'event',
      reads: { events: true, rejected: false },
      webhook: { url: 'https://hooks.example.com/trackhouse', headers: { Authorization: 'Bearer abc' }, secret: '0123456789abcdef0123' },
    });
    expect([...r!.filter.events!]).toEqual(['Order Completed']);
    expect(JSON.stringify(r!.definition)).not.toContain('0123456789abcdef0123');
  });

  it('shows a webhook by its origin alone in the definition /v1/alerts answers: a chat hook\'s path or query is its credential', () => {
    const file = path.join(dir, 'hook.yaml');
    writeFileSync(
      file,
      `rules:
  - name: slack
    window: { type: tumbling, size: 1d }
    condition: { above: 0 }
    webhook: { url: "https://hooks.slack.com/services/T0/B0/SECRETTOKEN?token=QUERYSECRET" }
`,
    );
    const [r] = loadRules(file, defaults);
    expect(r!.webhook.url).toBe('https://hooks.slack.com/services/T0/B0/SECRETTOKEN?token=QUERYSECRET');
    expect((r!.definition.webhook as { url: string }).url).toBe('https://hooks.slack.com/…');
    expect(JSON.stringify(r!.definition)).not.toMatch(/SECRETTOKEN|QUERYSECRET/);
  });

  it('refuses a webhook URL with a user name or password, saying to send them as a header: fetch refuses such a URL, and its error, quoting it whole, was the note\'s last_error in /v1/alerts', () => {
    const msg = problems({ rules: [{ name: 'basic', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: 'https://bot:pw123@hooks.example.com/in' } }] });
    expect(msg).toContain('rule "basic" (#1): webhook.url: holds a user name or password, which is not sent from a URL: send them in webhook.headers (Authorization: Basic ...)');
    expect(msg).not.toMatch(/pw123/);
    expect(problems({ rules: [{ name: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: 'https://bot@hooks.example.com/in' } }] })).toContain('webhook.url: holds a user name or password');
  });

  it('refuses a webhook URL that is no URL at all (a bad port, a space, nothing after the scheme) naming the rule and field, where it threw a bare TypeError: Invalid URL', () => {
    const rule = (name: string, url: string) => ({ name, window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url } });
    const msg = problems({ rules: [rule('port', 'https://hooks.example.com:99999/in'), rule('space', 'http://exa mple.com/'), rule('bare', 'http://'), rule('empty', ''), rule('ok', 'https://hooks.example.com/in')] });
    for (const [i, name] of ['port', 'space', 'bare', 'empty'].entries()) expect(msg).toContain(`rule "${name}" (#${i + 1}): webhook.url: expected an http:// or https:// URL`);
    expect(msg).not.toContain('rule "ok"');
  });

  it('refuses a webhook URL on a port fetch never connects to (6000, 10080, ...): every attempt failed with "fetch failed" until the note was dropped', () => {
    const rule = (url: string) => ({ rules: [{ name: 'x11', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url } }] });
    for (const port of ['6000', '10080', '5060', '2049']) {
      expect(problems(rule(`http://hooks.example.com:${port}/in`))).toContain(`rule "x11" (#1): webhook.url: port ${port} is one fetch never connects to`);
    }
    expect(parseRules(rule('http://hooks.example.com:8080/in'), defaults)).toHaveLength(1);
    expect(parseRules(rule('https://hooks.example.com/in'), defaults)).toHaveLength(1);
  });

  it('refuses webhook headers fetch would refuse or trackhouse sets itself, naming the header and never quoting its value: each made every call fail (the value in last_error) or corrupted Idempotency-Key / Content-Type', () => {
    const rule = (headers: Record<string, string>) => ({ name: 'h', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: 'https://hooks.example.com/in', headers } });
    const split = problems({ rules: [rule({ Authorization: 'Bearer tok\r\nX-Evil: 1' })] });
    expect(split).toContain('rule "h" (#1): webhook.headers.Authorization: a header value must be ISO-8859-1 text without line breaks or control characters');
    expect(split).not.toContain('tok');
    expect(problems({ rules: [rule({ Authorization: 'Bearer t\u2192k' })] })).toContain('webhook.headers.Authorization: a header value must be ISO-8859-1 text');
    for (const name of ['Content-Type', 'content-length', 'Host', 'Idempotency-Key', 'X-Trackhouse-Signature', 'Transfer-Encoding', 'User-Agent']) {
      expect(problems({ rules: [rule({ [name]: 'x' })] })).toContain(`rule "h" (#1): webhook.headers.${name}: trackhouse sets this header on every call; leave it out`);
    }
    expect(problems({ rules: [rule({ 'Bad Name': 'x' })] })).toContain('webhook.headers.Bad Name: not a valid header name');
    // Still taken: any other header, latin-1 values, tabs.
    const [r] = parseRules({ rules: [rule({ Authorization: 'Bearer abc', 'X-Team': 'caf\u00e9\tshop' })] }, defaults);
    expect(r!.webhook.headers).toEqual({ Authorization: 'Bearer abc', 'X-Team': 'caf\u00e9\tshop' });
  });

  it('says what a filter takes where zod said only "Invalid input": an unknown type, a number for an event or source', () => {
    const rule = (filter: unknown) => ({ rules: [{ name: 'f', filter, window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: hook }] });
    expect(problems(rule({ type: 'click' }))).toContain('rule "f" (#1): filter.type: expected an event type (track, identify, page, screen, group, alias), or a list of them');
    expect(problems(rule({ type: ['track', 'click'] }))).toContain('filter.type: expected an event type');
    expect(problems(rule({ event: 5 }))).toContain('rule "f" (#1): filter.event: expected an event name (1-8192 characters), or a list of them');
    expect(problems(rule({ source: 5 }))).toContain('rule "f" (#1): filter.source: expected a source name (1-64 letters, digits, dots, underscores or dashes), or a list of them');
    expect(problems(rule({ source: 'a b' }))).toContain('rule "f" (#1): filter.source: not a source name (1-64 letters');
  });

  it('lists a name used twice even when the first rule of that name is invalid too: every mistake at once', () => {
    const msg = problems({ rules: [{ name: 'x', window: { type: 'tumbling', size: '0m' }, condition: { above: 1 }, webhook: hook }, { name: 'x', window: { type: 'tumbling', size: '1m' }, condition: { above: 1 }, webhook: hook }] });
    expect(msg).toContain('rule "x" (#1): window.size');
    expect(msg).toContain('rule "x" (#2): name: another rule is called "x"');
  });

  it('reads JSON, sliding windows with their step, and silence on arrival time without lateness', () => {
    const file = path.join(dir, 'alerts.json');
    writeFileSync(
      file,
      JSON.stringify({
        rules: [
          { name: 'quiet-source', group_by: 'source', window: { type: 'sliding', size: '10m', every: '2m' }, condition: { absent: true }, webhook: hook },
          { name: 'rejects', measure: 'rejected_ratio', filter: { source: 'web' }, window: { type: 'tumbling', size: '5m' }, condition: { above: 0.01 }, webhook: hook },
        ],
      }),
    );
    const [quiet, rejects] = loadRules(file, defaults);
    expect(quiet).toMatchObject({ spec: { size: 600_000, step: 120_000, lateness: 0 }, axis: 'received', condition: { op: 'absent' } });
    expect(rejects).toMatchObject({ reads: { events: true, rejected: true }, condition: { op: 'above', threshold: 0.01 } });
  });

  it('names the rule and the field of every problem, all at once', () => {
    const msg = problems({
      rules: [
        { name: 'a', measure: 'count', window: { type: 'tumbling', size: '2d' }, condition: { above: 1 }, webhook: hook },
        { name: 'c', measure: 'sum', window: { type: 'tumbling', size: '1d' }, condition: { above: 1 }, webhook: hook },
        { name: 'b', measure: 'rejected', filter: { event: 'X' }, window: { type: 'sliding', size: '10m', every: '3m' }, condition: { above: 1 }, webhook: { url: 'ftp://x' } },
        { window: { type: 'tumbling', size: '1m' }, condition: { above: 1 }, webhook: hook },
        { name: 'a', window: { type: 'tumbling', size: '1m' }, condition: { sideways: 1 }, webhook: hook },
      ],
    });
    expect(msg).toContain('rule "a" (#1): window.size: size: must be from 1m to 1d');
    expect(msg).toContain('rule "c" (#2): property: measure sum needs the property to sum');
    expect(msg).toContain('rule "b" (#3): webhook.url: expected an http:// or https:// URL');
    expect(msg).toContain('rule #4: name:');
    expect(msg).toContain('rule "a" (#5): condition: expected one of {above: N}, {below: N}, {absent: true}');
    // Checks across fields run once a rule's fields are each valid.
    const b = problems({ rules: [{ name: 'b', measure: 'rejected', filter: { event: 'X' }, window: { type: 'sliding', size: '10m', every: '3m' }, condition: { above: 1 }, webhook: hook }] });
    expect(b).toContain('rule "b" (#1): filter: measure rejected counts rejected records');
    expect(b).toContain('rule "b" (#1): window.every: must be whole minutes and divide the size (10m)');
  });

  it('takes windows in seconds only when ALERTS_MIN_WINDOW_MS is lowered, in whole multiples of it', () => {
    const rule = (window: unknown) => ({ rules: [{ name: 'w', window, condition: { above: 1 }, webhook: hook }] });
    expect(problems(rule({ type: 'tumbling', size: '15s' }))).toContain('rule "w" (#1): window.size: size: must be from 1m to 1d');
    const unit = { ...defaults, unitMs: 15_000 };
    const [r] = parseRules(rule({ type: 'sliding', size: '30s' }), unit);
    expect(r!.spec).toMatchObject({ size: 30_000, step: 15_000 });
    expect(() => parseRules(rule({ type: 'tumbling', size: '20s' }), unit)).toThrow('rule "w" (#1): window.size: must be whole multiples of 15s');
    expect(() => parseRules(rule({ type: 'tumbling', size: '10s' }), unit)).toThrow('window.size: size: must be from 15s to 1d');
  });

  it('refuses two rules with one name, and unknown fields', () => {
    const one = { name: 'x', window: { type: 'tumbling', size: '1m' }, condition: { above: 1 }, webhook: hook };
    expect(problems({ rules: [one, one] })).toContain('rule "x" (#2): name: another rule is called "x"');
    expect(problems({ rules: [{ ...one, windw: 1 }] })).toMatch(/rule "x" \(#1\): \(rule\): Unrecognized key.*windw/);
  });

  it('says which file cannot be read or parsed', () => {
    expect(() => loadRules(path.join(dir, 'missing.yaml'), defaults)).toThrow(/TRACKHOUSE_ALERTS: cannot read .*missing\.yaml/);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules: [\n');
    expect(() => loadRules(bad, defaults)).toThrow(/TRACKHOUSE_ALERTS: .*bad\.yaml is not valid YAML/);
  });

  it('reads durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1w')).toBeNull();
    expect(parseDuration(-1)).toBeNull();
  });
});
