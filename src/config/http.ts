import { z } from 'zod';
import { optionalPortOrOff, port, str } from './parse.js';

/** ClickHouse's own HTTP port, where BI tools look first. */
export const DEFAULT_BI_PORT = 8123;
/** ClickHouse's own native-protocol port, Grafana's ClickHouse plugin's default. */
export const DEFAULT_BI_NATIVE_PORT = 9000;

const optionalPort = (value: string | undefined, fallback: number) =>
  value === 'off' ? null : { port: value === undefined ? fallback : Number(value), explicit: value !== undefined };

export const httpSchema = z
  .object({
    HOST: str('127.0.0.1'),
    INGEST_PORT: port(8080),
    QUERY_PORT: port(8081),
    SINK_PORT: port(8082),
    BI_PORT: optionalPortOrOff(),
    BI_NATIVE_PORT: optionalPortOrOff(),
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
    biPort: optionalPort(e.BI_PORT, DEFAULT_BI_PORT),
    /** The same in ClickHouse's native TCP protocol (BI_NATIVE_PORT), alike in `off` and `explicit`. */
    biNativePort: optionalPort(e.BI_NATIVE_PORT, DEFAULT_BI_NATIVE_PORT),
  }));

export type HttpConfig = z.output<typeof httpSchema>;
