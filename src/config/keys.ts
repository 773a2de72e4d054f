import { z } from 'zod';
import { list } from './parse.js';

export const DEV_WRITE_KEY = 'dev-write-key';
export const DEV_SOURCE = 'dev';
export const DEV_READ_KEY = 'dev-read-key';
export const DEV_ADMIN_KEY = 'dev-admin-key';
export const DEV_ADMIN_NAME = 'dev';

const writeKeyPair = /^([^:\s]+):([A-Za-z0-9._-]{1,64})$/;

export const keysSchema = z
  .object({
    TRACKHOUSE_WRITE_KEYS: list().superRefine((pairs, ctx) => {
      for (const pair of pairs) {
        if (!writeKeyPair.test(pair)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated key:source pairs (source: letters, digits, . _ -), got "${pair}"`,
          });
        }
      }
    }),
    TRACKHOUSE_READ_KEYS: list(),
    TRACKHOUSE_ADMIN_KEYS: list().superRefine((pairs, ctx) => {
      for (const pair of pairs) {
        if (!writeKeyPair.test(pair)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated key:name pairs (name, the actor in the audit trail: letters, digits, . _ -), got "${pair}"`,
          });
        }
      }
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
