import { z } from 'zod';
import { int, optionalStr, str } from './parse.js';

export const clickhouseSchema = z
  .object({
    CLICKHOUSE_URL: optionalStr().refine((v) => v === undefined || URL.canParse(v), {
      message: 'expected a URL such as http://127.0.0.1:8123',
    }),
    CLICKHOUSE_USER: str('default'),
    CLICKHOUSE_PASSWORD: str(''),
    CLICKHOUSE_DATABASE: str('default'),
    CLICKHOUSE_REQUEST_TIMEOUT_MS: int(30_000, 100, 3_600_000),
  })
  .transform((e) => ({
    /** Unset: the ClickHouse engine runs in-process (chDB) with its data under the data dir. */
    url: e.CLICKHOUSE_URL ?? null,
    username: e.CLICKHOUSE_USER,
    password: e.CLICKHOUSE_PASSWORD,
    /** Used with a server only; chDB always works in its `default` database. */
    database: e.CLICKHOUSE_DATABASE,
    requestTimeoutMs: e.CLICKHOUSE_REQUEST_TIMEOUT_MS,
  }));

export type ClickHouseConfig = z.output<typeof clickhouseSchema>;
