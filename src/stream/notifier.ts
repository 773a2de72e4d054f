// Notifications: made from transitions in the processor's transaction, sent by the leader only.
//
// Every replica makes the same notes from the same records (ids are deterministic); only the
// replica holding the lease sends them. What was sent goes to the notification log (a compacted
// Kafka topic, key = rule + group, value = the last notification delivered or given up), which
// every replica reads with its other topics. From it a replica learns what each group's
// receiver was last told, and drops its own copies of notes that are done:
//   - a note for a window at or before the last one told for its group is superseded (or, same
//     id, takes the log's status);
//   - a note that would tell a receiver the state it already believes (an alert to a receiver
//     told "alert", a recovery to one never told of an alert) is superseded.
// So after a failover the new leader sends only what nobody sent; before sending anything it
// reads the log to its end. A receiver told "ok" is what a group never told anything believes, so
// its told state is forgotten once the windows up to the one it was told about are final here (the
// rule's horizon): no note of this replica can be for such a window any more, so the state would
// decide nothing again, and a rule grouped by user would otherwise keep one per user ever told. Left: a leader that dies after the receiver accepted a call but
// before the log has it makes the next leader call again, with the same id: receivers
// deduplicate on Idempotency-Key. That window is one webhook round trip plus one Kafka write.
//
// Delivery: in order per rule and group, at most ALERTS_WEBHOOK_CONCURRENCY calls at once and at
// most half of them (rounded up) to one receiver (a URL origin), so a receiver that hangs with many
// groups to tell leaves the others slots; retried with backoff (doubling from ALERTS_WEBHOOK_BACKOFF_BASE_MS to _MAX_MS, with jitter)
// while the webhook fails; after ALERTS_WEBHOOK_MAX_ATTEMPTS a note is dropped: logged, counted,
// recorded in the log as dropped. A note is sent only once the transaction that made it is
// committed, so a crash can never send something the store then forgets.
import type { Logger } from '../common/log.js';
import type { LogProducer } from '../kafka/index.js';
import type { RuleTransition } from './evaluator.js';
import type { Rule } from './rules.js';
import type { Note, NoteStatus, StreamDbs, Told } from './store.js';
import { backoffMs, callWebhook, notificationId } from './webhook.js';

export interface NotifierOptions {
  dbs: StreamDbs;
  rules: readonly Rule[];
  log: Logger;
  topic: string;
  webhook: { timeoutMs: number; maxAttempts: number; backoffBaseMs: number; backoffMaxMs: number; concurrency: number };
  /** Test hook: SIGKILL right before the Nth webhook call of this process (0 = never). */
  killBeforeCall: number;
  observer?: NotifierObserver;
}

export interface NotifierObserver {
  attempt(rule: string, outcome: 'delivered' | 'failed' | 'dropped', seconds: number): void;
  superseded(rule: string): void;
}

/** Notes kept in the store besides pending ones (the API shows the newest 100). */
const KEEP_DONE = 1_000;
export const API_NOTES = 100;

const groupKey = (rule: string, group: string) => `${rule}\u0000${group}`;

interface LogValue {
  id: string;
  rule: string;
  group: string;
  kind: Note['kind'];
  window_end: number;
  status: 'delivered' | 'dropped';
  receiver: 'alert' | 'ok';
  at: number;
  attempts: number;
}

export class Notifier {
  private readonly rules: Map<string, Rule>;
  /** Every note in memory: the pending ones and the newest done ones. */
  private readonly notes = new Map<number, Note>();
  /** Pending notes per rule and group, in order. */
  private readonly queues = new Map<string, Note[]>();
  private readonly told = new Map<string, Told>();
  /** Keys of `told` whose receiver believes "ok": forgotten by write() once their window is final. */
  private readonly toldOk = new Set<string>();
  private readonly dirtyNotes = new Set<Note>();
  private readonly dirtyTold = new Set<string>();
  /** Notes made since the last commit began: not sent until a commit holding them ends. */
  private readonly uncommitted = new Set<Note>();
  /** Notes written by a commit that has not ended yet. */
  private readonly committing = new Set<Note>();
  private readonly inFlight = new Set<string>();
  /** Calls in flight per receiver (the webhook URL's origin). */
  private readonly inFlightTo = new Map<string, number>();
  /** Each rule's receiver, and how many calls one receiver may have at once. */
  private readonly receiverOf: Map<string, string>;
  private readonly perReceiver: number;
  private seq = 0;
  private calls = 0;
  private leader = false;
  private mayStart: () => boolean = () => false;
  private producer: LogProducer | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly running = new Set<Promise<void>>();
  private readonly o: NotifierOptions;

  constructor(o: NotifierOptions) {
    this.o = o;
    this.rules = new Map(o.rules.map((r) => [r.name, r]));
    this.receiverOf = new Map(o.rules.map((r) => [r.name, new URL(r.webhook.url).origin]));
    this.perReceiver = Math.max(1, Math.ceil(o.webhook.concurrency / 2));
  }

  /** Loads notes and what receivers were told. */
  load(): void {
    this.seq = (this.o.dbs.meta.get('seq') as number | undefined) ?? 0;
    for (const { value } of this.o.dbs.notes.getRange({})) {
      this.notes.set(value.seq, value);
      if (value.status === 'pending') this.enqueue(value);
    }
    for (const { key, value } of this.o.dbs.told.getRange({})) {
      const [rule, group] = key as [string, string];
      this.setTold(groupKey(rule, group), value);
    }
  }

  private setTold(k: string, t: Told): void {
    this.told.set(k, t);
    if (t.receiver === 'ok') this.toldOk.add(k);
    else this.toldOk.delete(k);
  }

  /** Groups whose receiver's last told state is kept (in memory; the store holds the same). */
  get toldCount(): number {
    return this.told.size;
  }

  private enqueue(n: Note): void {
    const k = groupKey(n.rule, n.group);
    const q = this.queues.get(k);
    if (q) q.push(n);
    else this.queues.set(k, [n]);
  }

  get pendingCount(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Notes for a round's transitions. `suppressed`: replaying history at first start (not sent). */
  record(transitions: readonly RuleTransition[], suppressed: boolean, now: number): number {
    let made = 0;
    for (const t of transitions) {
      const rule = t.rule;
      const n = this.note(rule, t.group, t.kind, t.windowEnd, t.value, t.early, now, suppressed ? 'suppressed' : 'pending');
      if (n !== null) made++;
    }
    return made;
  }

  private note(rule: Rule, group: string, kind: Note['kind'], windowEnd: number, value: number, early: boolean, now: number, status: NoteStatus): Note | null {
    const id = notificationId(rule, group, kind, windowEnd);
    const told = this.told.get(groupKey(rule.name, group));
    // Already told by whoever led when this replica was behind.
    if (told !== undefined && told.id === id) status = told.status;
    const n: Note = {
      seq: ++this.seq,
      id,
      rule: rule.name,
      group,
      kind,
      windowStart: windowEnd - rule.spec.size,
      windowEnd,
      value,
      early,
      createdAt: now,
      status,
      attempts: 0,
      nextAt: now,
      lastError: null,
      doneAt: status === 'pending' ? null : now,
      by: status === 'delivered' || status === 'dropped' ? 'log' : null,
    };
    if (status === 'pending' && this.obsolete(n)) {
      n.status = 'superseded';
      n.doneAt = now;
    }
    this.notes.set(n.seq, n);
    this.dirtyNotes.add(n);
    if (n.status === 'pending') {
      this.enqueue(n);
      this.uncommitted.add(n);
    }
    return n;
  }

  /**
   * The first replay at start is over: a group alerting now whose receiver does not know it gets
   * its alert (history is not replayed, the present is).
   */
  backfillDone(alerting: readonly { rule: Rule; group: string; windowEnd: number; value: number }[], now: number): void {
    for (const a of alerting) {
      const k = groupKey(a.rule.name, a.group);
      if ((this.told.get(k)?.receiver ?? 'ok') === 'alert') continue;
      if (this.queues.get(k)?.some((n) => n.kind === 'alert')) continue;
      this.note(a.rule, a.group, 'alert', a.windowEnd, a.value, false, now, 'pending');
    }
  }

  /**
   * Whether a pending note is done: by what its group's receiver was last told, then by the
   * notes queued ahead of it, which will tell it first. (A recovery still queued and the next
   * window's early alert can be made in one round; the alert must not be judged against the
   * alert told before that recovery.)
   */
  private obsolete(n: Note): boolean {
    const k = groupKey(n.rule, n.group);
    const t = this.told.get(k);
    if (t !== undefined && n.windowEnd <= t.windowEnd) return true;
    let receiver = t?.receiver ?? 'ok';
    const q = this.queues.get(k);
    if (q !== undefined) {
      for (const ahead of q) {
        if (ahead === n || ahead.seq > n.seq) break;
        receiver = ahead.kind === 'alert' ? 'alert' : 'ok';
      }
    }
    return (n.kind === 'alert' && receiver === 'alert') || (n.kind === 'recovered' && receiver === 'ok');
  }

  /** Records of the notification log, as the reader hands them over (in the processor's round). */
  applyLog(key: string | null, value: Buffer | null, now: number): void {
    if (key === null || value === null) return;
    let v: LogValue;
    try {
      v = JSON.parse(value.toString()) as LogValue;
    } catch {
      this.o.log.warn({ key }, 'unreadable record on the notification log; skipped');
      return;
    }
    const k = groupKey(v.rule, v.group);
    const told: Told = { id: v.id, kind: v.kind, windowEnd: v.window_end, status: v.status, receiver: v.receiver, at: v.at };
    this.setTold(k, told);
    this.dirtyTold.add(k);
    const q = this.queues.get(k);
    if (q === undefined) {
      // Not pending here (sent by this replica, or never made): take the log's status if known.
      for (const n of this.notes.values()) {
        if (n.id === v.id && n.status !== v.status && n.status !== 'suppressed') {
          n.status = v.status;
          n.doneAt ??= v.at;
          n.by ??= 'log';
          this.dirtyNotes.add(n);
        }
      }
      return;
    }
    for (const n of [...q]) {
      if (this.inFlight.has(k) && n === q[0]) continue; // being sent here; its own result decides
      if (n.id === v.id) this.finish(n, v.status, v.at, 'log');
      else if (this.obsolete(n)) this.finish(n, 'superseded', now, null);
    }
  }

  private finish(n: Note, status: NoteStatus, at: number, by: Note['by']): void {
    n.status = status;
    n.doneAt = at;
    if (by !== null) n.by = by;
    this.dirtyNotes.add(n);
    this.uncommitted.delete(n);
    this.committing.delete(n);
    const k = groupKey(n.rule, n.group);
    const q = this.queues.get(k);
    if (q) {
      const i = q.indexOf(n);
      if (i >= 0) q.splice(i, 1);
      if (q.length === 0) this.queues.delete(k);
    }
  }

  /**
   * Inside the processor's transaction: notes and told states changed since the last write, and
   * told states forgotten. `horizonOf`: each rule's horizon here (windows ending at or before it
   * are final); -Infinity forgets nothing of that rule.
   */
  write(horizonOf: (rule: string) => number): void {
    const { dbs } = this.o;
    for (const n of this.dirtyNotes) dbs.notes.put(n.seq, n);
    for (const k of this.dirtyTold) {
      const [rule, group] = k.split('\u0000') as [string, string];
      dbs.told.put([rule, group], this.told.get(k)!);
    }
    dbs.meta.put('seq', this.seq);
    this.dirtyNotes.clear();
    this.dirtyTold.clear();
    this.forgetTold(horizonOf);
    this.trim();
  }

  /**
   * Drops the told states of receivers told "ok" about a window that is final here, unless a note
   * of the group is still queued or being sent (it is judged against that state). Every later note
   * is for a window ending after the horizon, so a missing state ("ok", nothing told) decides it
   * as this one would have. Only candidates are looked at: states told "ok" not yet forgotten.
   */
  private forgetTold(horizonOf: (rule: string) => number): void {
    for (const k of this.toldOk) {
      const t = this.told.get(k);
      if (t === undefined || t.receiver !== 'ok') {
        this.toldOk.delete(k);
        continue;
      }
      if (this.queues.has(k) || this.inFlight.has(k)) continue;
      const [rule, group] = k.split('\u0000') as [string, string];
      if (!(t.windowEnd <= horizonOf(rule))) continue;
      this.told.delete(k);
      this.toldOk.delete(k);
      this.o.dbs.told.remove([rule, group]);
    }
  }

  /** Inside a commit's transaction: the notes it holds (pass them to committed() once it ended). */
  takeUncommitted(): Note[] {
    const notes = [...this.uncommitted];
    this.uncommitted.clear();
    for (const n of notes) this.committing.add(n);
    return notes;
  }

  /** The transaction holding these notes is committed: they may be sent. */
  committed(notes: readonly Note[]): void {
    if (notes.length === 0) return;
    for (const n of notes) this.committing.delete(n);
    this.kick();
  }

  get hasUncommitted(): boolean {
    return this.uncommitted.size > 0;
  }

  private trim(): void {
    const done = [...this.notes.values()].filter((n) => n.status !== 'pending').sort((a, b) => a.seq - b.seq);
    for (const n of done.slice(0, Math.max(0, done.length - KEEP_DONE))) {
      this.notes.delete(n.seq);
      this.o.dbs.notes.remove(n.seq);
    }
  }

  /** The newest notes, newest first, for GET /v1/alerts. */
  recent(limit = API_NOTES): Note[] {
    return [...this.notes.values()].sort((a, b) => b.seq - a.seq).slice(0, limit);
  }

  /**
   * Leadership changed. `caughtUp` says when the notification log has been read to where it
   * ended when the lease was won; nothing is sent before.
   */
  setLeader(leader: boolean, caughtUp: () => boolean = () => true): void {
    this.leader = leader;
    this.mayStart = caughtUp;
    this.kick();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(producer: LogProducer): void {
    this.producer = producer;
    this.loop ??= this.run();
  }

  kick(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let nextAt = Infinity;
      if (this.leader && this.mayStart()) nextAt = this.dispatch(Date.now());
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        // Also look again every second: the log catching up, a lease change.
        const t = setTimeout(resolve, Math.max(10, Math.min(1_000, nextAt - Date.now())));
        t.unref();
      });
      this.wake = null;
    }
  }

  /** Starts the calls that may start now; returns when the next backoff ends. */
  private dispatch(now: number): number {
    let nextAt = Infinity;
    const heads: Note[] = [];
    for (const [k, q] of this.queues) {
      if (this.inFlight.has(k)) continue;
      const n = q[0]!;
      if (this.uncommitted.has(n) || this.committing.has(n)) continue;
      if (n.nextAt > now) {
        nextAt = Math.min(nextAt, n.nextAt);
        continue;
      }
      heads.push(n);
    }
    heads.sort((a, b) => a.seq - b.seq);
    for (const n of heads) {
      if (this.inFlight.size >= this.o.webhook.concurrency) break;
      const k = groupKey(n.rule, n.group);
      if (this.obsolete(n)) {
        this.finish(n, 'superseded', now, null);
        this.o.observer?.superseded(n.rule);
        this.persist([n]);
        continue;
      }
      // A rule gone from the file has no receiver: send() finishes its note without a call.
      const to = this.receiverOf.get(n.rule) ?? '';
      const busy = this.inFlightTo.get(to) ?? 0;
      if (busy >= this.perReceiver) continue;
      this.inFlightTo.set(to, busy + 1);
      this.inFlight.add(k);
      const p = this.send(n).finally(() => {
        this.inFlight.delete(k);
        const left = (this.inFlightTo.get(to) ?? 1) - 1;
        if (left > 0) this.inFlightTo.set(to, left);
        else this.inFlightTo.delete(to);
        this.running.delete(p);
        this.kick();
      });
      this.running.add(p);
    }
    return nextAt;
  }

  private async send(n: Note): Promise<void> {
    const rule = this.rules.get(n.rule);
    if (rule === undefined) {
      // The rule is gone from the file: nothing to call.
      this.finish(n, 'superseded', Date.now(), null);
      this.persist([n]);
      return;
    }
    const { log } = this.o;
    this.calls++;
    if (this.o.killBeforeCall > 0 && this.calls >= this.o.killBeforeCall) {
      log.warn({ id: n.id }, 'STREAM_TEST_KILL_BEFORE_WEBHOOK: killing this process before the webhook call (test hook)');
      process.kill(process.pid, 'SIGKILL');
    }
    const attempt = n.attempts + 1;
    const started = performance.now();
    const result = await callWebhook(rule, n, attempt, this.o.webhook.timeoutMs);
    const seconds = (performance.now() - started) / 1000;
    n.attempts = attempt;
    if (n.status !== 'pending') return; // superseded meanwhile by the log (another leader)
    if (result.ok) {
      n.lastError = null;
      await this.publish(n, 'delivered', rule);
      this.finish(n, 'delivered', Date.now(), 'self');
      this.o.observer?.attempt(rule.name, 'delivered', seconds);
      log.info({ id: n.id, rule: n.rule, group: n.group, kind: n.kind, attempt, status: result.status }, 'notification delivered');
    } else if (attempt >= this.o.webhook.maxAttempts) {
      n.lastError = result.error;
      await this.publish(n, 'dropped', rule);
      this.finish(n, 'dropped', Date.now(), 'self');
      this.o.observer?.attempt(rule.name, 'dropped', seconds);
      log.error({ id: n.id, rule: n.rule, group: n.group, kind: n.kind, attempts: attempt, error: result.error }, 'notification dropped: the webhook failed every attempt (ALERTS_WEBHOOK_MAX_ATTEMPTS)');
    } else {
      n.lastError = result.error;
      n.nextAt = Date.now() + backoffMs(attempt, this.o.webhook.backoffBaseMs, this.o.webhook.backoffMaxMs);
      this.o.observer?.attempt(rule.name, 'failed', seconds);
      log.warn({ id: n.id, rule: n.rule, attempt, error: result.error, retryInMs: n.nextAt - Date.now() }, 'webhook call failed; will retry');
    }
    this.dirtyNotes.add(n);
    this.persist([n]);
  }

  /** Writes what the sender changed in a transaction of its own (the processor's next commit would too, later). */
  private persist(notes: readonly Note[]): void {
    const { dbs } = this.o;
    dbs.root.transactionSync(() => {
      for (const n of notes) dbs.notes.put(n.seq, n);
    });
  }

  /** The notification log record; retried until Kafka takes it or the process stops. */
  private async publish(n: Note, status: 'delivered' | 'dropped', rule: Rule): Promise<void> {
    const k = groupKey(n.rule, n.group);
    const previous = this.told.get(k)?.receiver ?? 'ok';
    const receiver: 'alert' | 'ok' = status === 'delivered' ? (n.kind === 'alert' ? 'alert' : 'ok') : previous;
    const value: LogValue = { id: n.id, rule: rule.name, group: n.group, kind: n.kind, window_end: n.windowEnd, status, receiver, at: Date.now(), attempts: n.attempts };
    this.setTold(k, { id: n.id, kind: n.kind, windowEnd: n.windowEnd, status, receiver, at: value.at });
    this.dirtyTold.add(k);
    for (let i = 0; !this.stopped; i++) {
      try {
        await this.producer!.send(this.o.topic, [{ key: k, value: JSON.stringify(value) }]);
        return;
      } catch (err) {
        this.o.log.warn({ err, id: n.id, attempt: i + 1 }, 'could not write the notification log; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** i)).unref());
      }
    }
  }

  /** Stops sending; waits for calls in flight (bounded by the webhook timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.loop;
    await Promise.allSettled([...this.running]);
  }
}
