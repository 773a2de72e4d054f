// Entry point of an edge thread (INGEST_THREADS > 1): one full edge (uWS app on the shared port,
// its own Kafka producer) that reports to the supervisor on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackhouseError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { Registry, createRegistry } from '../common/metrics.js';
import { Pending } from '../common/pending.js';
import { startEdgeServer, type EdgeServer } from './server.js';
import type { FromWorker, ToWorker, WorkerInit } from './thread-messages.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const log = createLogger(init.config.logLevel, { component: 'ingest', thread: init.thread });
const registry = createRegistry('ingest', false);
registry.setDefaultLabels({ component: 'ingest', thread: String(init.thread) });

const waiting = new Pending<string>();

/** /metrics on this thread shows every thread's figures, gathered by the supervisor. */
class AllThreadsMetrics extends Registry {
  override metrics(): Promise<string> {
    return waiting.ask((id) => send({ type: 'metrics-text', id }));
  }
}

let server: EdgeServer | undefined;

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'metrics-json':
      void registry.getMetricsAsJSON().then((json) => send({ type: 'metrics-json', id: m.id, json }));
      break;
    case 'metrics-text':
      waiting.resolve(m.id, m.text);
      break;
    case 'reload-tls':
      void (server?.reloadTls() ?? Promise.resolve()).then(
        () => send({ type: 'tls-reloaded', id: m.id }),
        (err: unknown) =>
          send({ type: 'tls-reloaded', id: m.id, error: err instanceof Error ? err.message : String(err), code: err instanceof TrackhouseError ? err.code : undefined }),
      );
      break;
    case 'drain':
      server?.drain();
      break;
    case 'stop':
      void (server?.stop() ?? Promise.resolve()).then(
        () => {
          send({ type: 'stopped', clean: true });
          port.close();
        },
        (err: unknown) => {
          // The edge logged what it gave up on; anything else is logged here.
          if (!(err instanceof TrackhouseError)) log.error({ err }, 'edge thread failed to stop cleanly');
          send({ type: 'stopped', clean: false });
          port.close();
        },
      );
      break;
  }
});

try {
  server = await startEdgeServer({
    config: init.config,
    log,
    registry,
    metricsSource: new AllThreadsMetrics(),
    brokers: init.brokers,
    port: init.port,
    tlsPort: init.tlsPort,
    portsClaimed: true,
  });
  send({ type: 'listening', port: server.port, tlsPort: server.tlsPort });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err), code: err instanceof TrackhouseError ? err.code : undefined });
  port.close();
}
