// Building blocks for reading environment variables with zod. Every variable is a string (or
// absent) in the environment; these turn it into a typed value or a message naming the variable.
import { z } from 'zod';

/** Empty strings count as "not set", so `FOO= trackhouse ...` falls back to the default. */
const unsetIfEmpty = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const str = (fallback: string) => z.preprocess(unsetIfEmpty, z.string().default(fallback));

export const optionalStr = () => z.preprocess(unsetIfEmpty, z.string().optional());

/** An integer in [min, max], from its text; the one message names the range. */
const intBetween = (min: number, max: number) => {
  const error = `expected an integer between ${min} and ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

export const int = (fallback: number, min: number, max: number) => z.preprocess(unsetIfEmpty, intBetween(min, max).default(fallback));

/** Like int, but `undefined` when unset, for settings whose default depends on another one. */
export const optionalInt = (min: number, max: number) => z.preprocess(unsetIfEmpty, intBetween(min, max).optional());

export const port = (fallback: number) => int(fallback, 0, 65535);

/** A port or `off`, left as written (undefined when unset) so the caller can tell a default from a choice. */
export const optionalPortOrOff = () => {
  const error = 'expected a port (an integer between 0 and 65535, 0 picks a free one) or off';
  return z.preprocess(
    (v) => (typeof unsetIfEmpty(v) === 'string' ? (v as string).trim().toLowerCase() : undefined),
    z
      .string()
      .refine((v) => v === 'off' || (/^\d{1,5}$/.test(v) && Number(v) <= 65535), { error })
      .optional(),
  );
};

/**
 * A Kafka topic retention in milliseconds: -1 (keep forever) or at least `min`. Absent stays
 * undefined, so the caller can pick a default that depends on other settings.
 */
export const retentionMs = (min: number) => {
  const error = `expected -1 (keep forever) or an integer of at least ${min} (milliseconds)`;
  return z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error })
      .int({ error })
      .refine((v) => v === -1 || (v >= min && v <= Number.MAX_SAFE_INTEGER), { error })
      .optional(),
  );
};

export const bool = (fallback: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  );

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z.preprocess(
    (v) => (typeof unsetIfEmpty(v) === 'string' ? (v as string).trim().toLowerCase() : undefined),
    z.enum(values, { error: `expected one of ${values.join(', ')}` }).default(fallback as never),
  );

/** The items of a comma-separated value, trimmed; blanks dropped. */
export const items = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** Comma-separated list; blanks dropped. */
export const list = () =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .optional()
      .transform((v) => (v === undefined ? [] : items(v))),
  );
