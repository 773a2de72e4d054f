// Runs regulation requests (POST /v1/regulations), after Segment's regulations API:
//   suppress              the edge and import refuse the user's new events (the list does it);
//   delete                the user's stored events go: ClickHouse (events, rollups rebuilt), the
//                         query API's view; the sink, replay and the view skip their older records;
//   suppress_with_delete  both, and every record of the user is skipped, whatever its time.
// The list state and the regulation (status running) are written to the erasure topic before the
// request is answered, so the request is durable; the deletion then runs in the background, and
// its completion is written there and to the audit trail. A regulation left running by a stop is
// run again at the next start (every step can be repeated).
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { applyRegulation, userHash, type ErasureList, type ErasureWriter, type Regulation, type RegulationType } from '../erasure/index.js';
import type { ErasureStore } from './store.js';

export interface ExecutorDeps {
  list: ErasureList;
  writer: ErasureWriter;
  store: ErasureStore;
  audit: AuditLog;
  log: Logger;
  /** The view's deletion of a user's rows, started by the list (undefined: no view, or not named). */
  viewErasure?: (userKey: string) => Promise<number> | undefined;
  /**
   * How long after the first delete to look again for rows of the users: records the sink had
   * decoded before it learnt the list may land after the delete (0: no second look).
   */
  recheckAfterMs: number;
  now?: () => number;
}

const deletes = (t: RegulationType) => t === 'delete' || t === 'suppress_with_delete';

/**
 * A delete covers the user's records stamped up to this long after the request: record times come
 * from the producing host's clock (the edge's), and a record produced just before the request by
 * an edge whose clock runs ahead must not count as new data (a replay would bring it back). Errs
 * on the side of erasure: events of the user in that minute are dropped too.
 */
export const CLOCK_MARGIN_MS = 60_000;

export class RegulationExecutor {
  private readonly running = new Map<string, Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly d: ExecutorDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Records the request (durable once this resolves) and starts its deletion, if any. */
  async submit(type: RegulationType, userKeys: readonly string[], actor: string): Promise<Regulation> {
    const at = this.now();
    const id = `reg_${at.toString(36)}_${randomBytes(6).toString('hex')}`;
    const keys = [...new Set(userKeys)];
    const users = keys.map((k) => applyRegulation(this.d.list.user(k), k, type, id, at, CLOCK_MARGIN_MS));
    const reg: Regulation = {
      id,
      type,
      status: deletes(type) ? 'running' : 'finished',
      actor,
      userKeys: keys,
      createdAt: at,
      finishedAt: deletes(type) ? null : at,
      counts: deletes(type) ? null : { events: 0, days: 0, viewEvents: 0 },
      error: null,
    };
    await this.d.writer.write(users, [reg]);
    await this.d.audit.record({
      time: at,
      actor,
      action: 'regulation.requested',
      id,
      scope: { type, users: keys.map(userHash) },
      counts: { users: keys.length },
      outcome: 'accepted',
    });
    this.d.log.info({ regulation: id, type, users: keys.length, actor }, 'regulation accepted');
    if (deletes(type)) this.start(reg);
    return reg;
  }

  /** Runs again the regulations a stop left running (every step can be repeated). */
  resume(): void {
    for (const r of this.d.list.regulations.values()) if (r.status === 'running' && !this.running.has(r.id)) this.start(r);
  }

  /** Resolves when the regulation's background work (if any) is over. */
  settled(id: string): Promise<void> {
    return this.running.get(id) ?? Promise.resolve();
  }

  /** Resolves when every regulation's background work is over (at stop). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  private start(reg: Regulation): void {
    const p = this.run(reg).finally(() => this.running.delete(reg.id));
    this.running.set(reg.id, p);
  }

  private async run(reg: Regulation): Promise<void> {
    const { store, log } = this.d;
    const started = this.now();
    // Days a run before this one (interrupted, or failed after its delete) had to rebuild.
    const days = new Set(reg.rollupDays ?? []);
    let current = reg;
    /** Finds the users' rows, makes their days durable in the regulation's record, then deletes them. */
    const erase = async (): Promise<number> => {
      const found = await store.findUsers(reg.userKeys);
      const before = days.size;
      for (const d of found.days) days.add(d);
      if (days.size > before) {
        current = { ...current, rollupDays: [...days].sort() };
        await this.d.writer.write([], [current]);
      }
      await store.deleteUsers(reg.userKeys, found);
      return found.events;
    };
    try {
      let events = await erase();
      if (this.d.recheckAfterMs > 0) {
        await new Promise((r) => setTimeout(r, this.d.recheckAfterMs));
        if ((await store.countUsers(reg.userKeys)) > 0) {
          const again = await erase();
          events += again;
          log.warn({ regulation: reg.id, events: again }, 'rows of erased users arrived after the delete (in flight in the sink); deleted too');
        }
      }
      await store.rebuildRollups([...days].sort());
      let viewEvents = 0;
      for (const k of reg.userKeys) viewEvents += (await this.d.viewErasure?.(k)) ?? 0;
      const done: Regulation = { ...current, status: 'finished', finishedAt: this.now(), counts: { events, days: days.size, viewEvents }, error: null };
      await this.d.writer.write([], [done]);
      await this.d.audit.record({
        time: done.finishedAt!,
        actor: reg.actor,
        action: 'regulation.finished',
        id: reg.id,
        scope: { type: reg.type, users: reg.userKeys.map(userHash), days: [...days].sort() },
        counts: { users: reg.userKeys.length, events, days: days.size, viewEvents, ms: done.finishedAt! - started },
        outcome: 'ok',
      });
      log.info({ regulation: reg.id, events, days: days.size, viewEvents, ms: done.finishedAt! - started }, 'regulation finished');
    } catch (err) {
      log.error({ err, regulation: reg.id }, 'regulation failed; it runs again at the next start of the query API');
      await this.d.audit
        .record({
          time: this.now(),
          actor: reg.actor,
          action: 'regulation.failed',
          id: reg.id,
          scope: { type: reg.type, users: reg.userKeys.map(userHash) },
          counts: {},
          outcome: 'failed',
        })
        .catch(() => {});
      // Left `running` in the topic, so the next start runs it again; the GET shows the error.
      this.d.list.regulations.set(reg.id, { ...current, error: errorMessage(err) });
    }
  }
}
