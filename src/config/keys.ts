import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { list } from './parse.js';

export const DEV_WRITE_KEY = 'dev-write-key';
export const DEV_SOURCE = 'dev';
export const DEV_READ_KEY = 'dev-read-key';
export const DEV_ADMIN_KEY = 'dev-admin-key';
export const DEV_ADMIN_NAME = 'dev';

/** A source's name (stamped on every event; a key part of the stream's volume): 1-64 of these. */
export const SOURCE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const SOURCE_NAME_RULE = '1-64 letters, digits, dots, underscores or dashes';

const writeKeyPair = new RegExp(`^([^:\\s]+):(${SOURCE_NAME.source.slice(1, -1)})$`);

/**
 * Comma-separated `key:<what>` pairs. Errors name an item by its position and never repeat it (the
 * keys are secrets); a key given twice is refused: with two values one would silently win, and
 * the same pair twice says the list is not what was meant.
 */
const keyPairs = (what: 'source' | 'name', about = '') =>
  list().superRefine((pairs, ctx) => {
    const seen = new Map<string, number>();
    pairs.forEach((pair, i) => {
      const key = writeKeyPair.exec(pair)?.[1];
      if (key === undefined) {
        const colon = pair.includes(':') ? '' : ' (no ":")';
        ctx.addIssue({ code: 'custom', message: `expected comma-separated key:${what} pairs (${what}${about}: letters, digits, . _ -); item ${i + 1} is not one${colon}` });
        return;
      }
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else ctx.addIssue({ code: 'custom', message: `items ${first + 1} and ${i + 1} give the same key (each key has one ${what})` });
    });
  });

/** key -> its value, of pairs keyPairs has checked. */
function pairMap(pairs: readonly string[]): ReadonlyMap<string, string> {
  return new Map(pairs.map((pair) => writeKeyPair.exec(pair)!.slice(1, 3) as [string, string]));
}

export const keysSchema = z
  .object({
    TRACKHOUSE_WRITE_KEYS: keyPairs('source'),
    TRACKHOUSE_READ_KEYS: list(),
    TRACKHOUSE_ADMIN_KEYS: keyPairs('name', ', the actor in the audit trail'),
  })
  .superRefine((e, ctx) => {
    // A write key ships in every page that sends events: as a read key it would let anyone read them all.
    const writeKeys = new Set(e.TRACKHOUSE_WRITE_KEYS.map((p) => p.split(':')[0]!));
    e.TRACKHOUSE_READ_KEYS.forEach((key, i) => {
      if (writeKeys.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['TRACKHOUSE_READ_KEYS'], message: `a read key must differ from every write key (write keys are public: browsers send them); item ${i + 1} is one` });
      }
    });
    // An admin key may erase data and read the audit trail: it must not also be a read or write key.
    const others = new Set([...e.TRACKHOUSE_READ_KEYS, ...writeKeys]);
    for (const pair of e.TRACKHOUSE_ADMIN_KEYS) {
      const key = writeKeyPair.exec(pair)?.[1];
      if (key !== undefined && others.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['TRACKHOUSE_ADMIN_KEYS'], message: 'an admin key must differ from every read and write key' });
      }
    }
  })
  .transform((e) => ({
    /** admin key -> name recorded as the actor in the audit trail (regulations, audit reads) */
    admin: pairMap(e.TRACKHOUSE_ADMIN_KEYS),
    /** write key -> source name stamped on every event sent with it */
    write: pairMap(e.TRACKHOUSE_WRITE_KEYS),
    read: new Set(e.TRACKHOUSE_READ_KEYS) as ReadonlySet<string>,
  }));

export type KeysConfig = z.output<typeof keysSchema>;

/**
 * The keys `trackhouse start` uses when none are configured, so a first run works at once.
 * keysSchema checks only the keys that were set; a set key equal to a dev key filled in beside it
 * (TRACKHOUSE_READ_KEYS=dev-write-key alone, say) breaks the same rules, so it is refused here, at
 * once: the ingest child would otherwise refuse the merged keys only after the broker started.
 */
export function withDevKeys(keys: KeysConfig): KeysConfig & { devWrite: boolean; devRead: boolean; devAdmin: boolean } {
  const devWrite = keys.write.size === 0;
  const devRead = keys.read.size === 0;
  const devAdmin = keys.admin.size === 0;
  // One row per role: the keys set for it (none when its dev key is filled in) and its dev key.
  const roles = [
    { role: 'write', variable: 'TRACKHOUSE_WRITE_KEYS', dev: DEV_WRITE_KEY, filled: devWrite, set: [...keys.write.keys()] },
    { role: 'read', variable: 'TRACKHOUSE_READ_KEYS', dev: DEV_READ_KEY, filled: devRead, set: [...keys.read] },
    { role: 'admin', variable: 'TRACKHOUSE_ADMIN_KEYS', dev: DEV_ADMIN_KEY, filled: devAdmin, set: [...keys.admin.keys()] },
  ];
  const problems: string[] = [];
  for (const r of roles) {
    r.set.forEach((key, i) => {
      const dev = roles.find((d) => d.filled && d.dev === key);
      if (dev === undefined) return;
      // The dev keys are published, so naming one is no leak (the operator's own keys never are).
      problems.push(
        `${r.variable}: item ${i + 1} is ${dev.dev}, the development ${dev.role} key trackhouse start takes while ${dev.variable} is unset; ` +
          `${r.role === 'admin' ? 'an' : 'a'} ${r.role} key must differ from every ${dev.role} key: choose another ${r.role} key, or set ${dev.variable}`,
      );
    });
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  return {
    admin: devAdmin ? new Map([[DEV_ADMIN_KEY, DEV_ADMIN_NAME]]) : keys.admin,
    write: devWrite ? new Map([[DEV_WRITE_KEY, DEV_SOURCE]]) : keys.write,
    read: devRead ? new Set([DEV_READ_KEY]) : keys.read,
    devWrite,
    devRead,
    devAdmin,
  };
}
