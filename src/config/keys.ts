import { z } from 'zod';
import { list } from './parse.js';

export const DEV_WRITE_KEY = 'dev-write-key';
export const DEV_SOURCE = 'dev';
export const DEV_READ_KEY = 'dev-read-key';
export const DEV_ADMIN_KEY = 'dev-admin-key';
export const DEV_ADMIN_NAME = 'dev';

const writeKeyPair = /^([^:\s]+):([A-Za-z0-9._-]{1,64})$/;

/** Why a pair failed, without repeating the key: these values are secrets. */
function noSource(pair: string): string {
  return pair.includes(':') ? '' : ' (no ":")';
}

/**
 * A key given twice: with two sources (or names) one would silently win; the same pair twice is
 * harmless but says the list is not what was meant. Items are named by position, not by key.
 */
function duplicates(pairs: readonly string[], what: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  pairs.forEach((pair, i) => {
    const key = writeKeyPair.exec(pair)?.[1];
    if (key === undefined) return;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else ctx.addIssue({ code: 'custom', message: `items ${first + 1} and ${i + 1} give the same key (each key has one ${what})` });
  });
}

export const keysSchema = z
  .object({
    TRACKHOUSE_WRITE_KEYS: list().superRefine((pairs, ctx) => {
      pairs.forEach((pair, i) => {
        if (!writeKeyPair.test(pair)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated key:source pairs (source: letters, digits, . _ -); item ${i + 1} is not one${noSource(pair)}`,
          });
        }
      });
      duplicates(pairs, 'source', ctx);
    }),
    TRACKHOUSE_READ_KEYS: list(),
    TRACKHOUSE_ADMIN_KEYS: list().superRefine((pairs, ctx) => {
      pairs.forEach((pair, i) => {
        if (!writeKeyPair.test(pair)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated key:name pairs (name, the actor in the audit trail: letters, digits, . _ -); item ${i + 1} is not one${noSource(pair)}`,
          });
        }
      });
      duplicates(pairs, 'name', ctx);
    }),
  })
  .superRefine((e, ctx) => {
    // An admin key may erase data and read the audit trail: it must not also be a read or write key.
    const others = new Set([...e.TRACKHOUSE_READ_KEYS, ...e.TRACKHOUSE_WRITE_KEYS.map((p) => p.split(':')[0]!)]);
    for (const pair of e.TRACKHOUSE_ADMIN_KEYS) {
      const key = writeKeyPair.exec(pair)?.[1];
      if (key !== undefined && others.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['TRACKHOUSE_ADMIN_KEYS'], message: 'an admin key must differ from every read and write key' });
      }
    }
  })
  .transform((e) => {
    const write = new Map<string, string>();
    for (const pair of e.TRACKHOUSE_WRITE_KEYS) {
      const m = writeKeyPair.exec(pair)!;
      write.set(m[1]!, m[2]!);
    }
    const admin = new Map<string, string>();
    for (const pair of e.TRACKHOUSE_ADMIN_KEYS) {
      const m = writeKeyPair.exec(pair)!;
      admin.set(m[1]!, m[2]!);
    }
    return {
      /** admin key -> name recorded as the actor in the audit trail (regulations, audit reads) */
      admin: admin as ReadonlyMap<string, string>,
      /** write key -> source name stamped on every event sent with it */
      write: write as ReadonlyMap<string, string>,
      read: new Set(e.TRACKHOUSE_READ_KEYS) as ReadonlySet<string>,
    };
  });

export type KeysConfig = z.output<typeof keysSchema>;

/** The keys `trackhouse start` uses when none are configured, so a first run works at once. */
export function withDevKeys(keys: KeysConfig): KeysConfig & { devWrite: boolean; devRead: boolean; devAdmin: boolean } {
  const devWrite = keys.write.size === 0;
  const devRead = keys.read.size === 0;
  const devAdmin = keys.admin.size === 0;
  return {
    admin: devAdmin ? new Map([[DEV_ADMIN_KEY, DEV_ADMIN_NAME]]) : keys.admin,
    write: devWrite ? new Map([[DEV_WRITE_KEY, DEV_SOURCE]]) : keys.write,
    read: devRead ? new Set([DEV_READ_KEY]) : keys.read,
    devWrite,
    devRead,
    devAdmin,
  };
}
