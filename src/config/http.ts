import { z } from 'zod';
import { optionalPortOrOff, port, str } from './parse.js';

/** ClickHouse's own HTTP port, where BI tools look first. */
export const DEFAULT_BI_PORT = 8123;

export const httpSchema = z
  .object({
    HOST: str('127.0.0.1'),
    INGEST_PORT: port(8080),
    QUERY_PORT: port(8081),
    SINK_PORT: port(8082),
    BI_PORT: optionalPortOrOff(),
  })
  .transform((e) => ({
    host: e.HOST,
    ingestPort: e.INGEST_PORT,
    queryPort: e.QUERY_PORT,
    /** The sink has no API; this port serves its /healthz, /readyz and /metrics. */
    sinkPort: e.SINK_PORT,
    /**
     * `trackhouse start` with chDB: the read-only SQL port for BI tools (ClickHouse's HTTP
     * interface), null when `off`. `explicit`: BI_PORT was set, so a port in use stops the start;
     * the default is skipped with a warning instead (a ClickHouse server of the user's own may hold it).
     */
    biPort: e.BI_PORT === 'off' ? null : { port: e.BI_PORT === undefined ? DEFAULT_BI_PORT : Number(e.BI_PORT), explicit: e.BI_PORT !== undefined },
  }));

export type HttpConfig = z.output<typeof httpSchema>;
