import { z } from 'zod';
import { int } from './parse.js';

export const querySchema = z
  .object({
    QUERY_DEFAULT_LIMIT: int(100, 1, 1000),
    QUERY_MAX_LIMIT: int(1000, 1, 10_000),
  })
  .transform((e) => ({
    defaultLimit: e.QUERY_DEFAULT_LIMIT,
    maxLimit: e.QUERY_MAX_LIMIT,
  }));

export type QueryConfig = z.output<typeof querySchema>;
