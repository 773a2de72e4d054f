import { z } from 'zod';
import { port, str } from './parse.js';

export const httpSchema = z
  .object({
    HOST: str('127.0.0.1'),
    INGEST_PORT: port(8080),
    QUERY_PORT: port(8081),
    SINK_PORT: port(8082),
  })
  .transform((e) => ({
    host: e.HOST,
    ingestPort: e.INGEST_PORT,
    queryPort: e.QUERY_PORT,
    /** The sink has no API; this port serves its /healthz, /readyz and /metrics. */
    sinkPort: e.SINK_PORT,
  }));

export type HttpConfig = z.output<typeof httpSchema>;
