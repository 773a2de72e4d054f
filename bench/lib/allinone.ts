// `trackhouse start` for a bench: default settings on the run's broker, its own topics, sink group
// and data dir (named by `tag`), free ports, and the node options the query bench gives the query
// API (QUERY_NODE_ARGS: `npm start`'s unless BENCH_QUERY_NODE_OPTIONS says otherwise); resolves
// once the banner says every part runs.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/localkafka/index.js';
import type { BenchContext } from '../types.js';
import { QUERY_NODE_ARGS, startServer, waitForPort, type Server } from './proc.js';

export interface BenchAllInOne {
  server: Server;
  ports: { ingest: number; query: number; sink: number };
  topic: string;
  group: string;
}

export async function startBenchAllInOne(ctx: BenchContext, tag: string, keys: { write: string; read: string }): Promise<BenchAllInOne> {
  const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort() };
  const topic = `${tag}.events`;
  const group = `${tag}-sink`;
  const server = startServer(process.execPath, [...QUERY_NODE_ARGS, path.join(ctx.root, 'dist/cli/main.js'), 'start'], {
    TRACKHOUSE_DATA_DIR: path.join(ctx.workDir, tag),
    KAFKA_BROKERS: ctx.brokers.join(','),
    KAFKA_TOPIC_EVENTS: topic,
    KAFKA_TOPIC_REJECTED: `${tag}.rejected`,
    KAFKA_TOPIC_DLQ: `${tag}.dlq`,
    SINK_GROUP_ID: group,
    TRACKHOUSE_WRITE_KEYS: `${keys.write}:bench`,
    TRACKHOUSE_READ_KEYS: keys.read,
    INGEST_PORT: String(ports.ingest),
    QUERY_PORT: String(ports.query),
    SINK_PORT: String(ports.sink),
    BI_PORT: '0',
    BI_NATIVE_PORT: 'off',
    LOG_LEVEL: 'warn',
  });
  try {
    await waitForPort(ports.ingest, server, 120_000);
    // The banner is printed once every part runs (ingest is ready first).
    while (!server.output().includes('Ctrl-C drains')) await sleep(100);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { server, ports, topic, group };
}
