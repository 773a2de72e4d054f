// What both schema registry tests run against: an ingest on the real broker, a query server on the
// same topic names serving /registry (as a deployment's query process does), and a reader of the
// events topic.
import { registryRoutes } from '../../src/cli/components.js';
import { startTestIngest, TopicReader, type TestIngest } from './ingest-support.js';
import { startHarness, type Harness } from './query-helpers.js';

export interface RegistryStack {
  ingest: TestIngest;
  query: Harness;
  reader: TopicReader;
  /** The events topic (unique to this stack). */
  topic: string;
  close(): Promise<void>;
}

export async function startRegistryStack(): Promise<RegistryStack> {
  const ingest = await startTestIngest();
  const topic = ingest.config.kafka.topics.events;
  const query = await startHarness({ env: { KAFKA_TOPIC_EVENTS: topic }, routes: [registryRoutes(ingest.config)] });
  const reader = await new TopicReader(ingest.kafka, [topic]).start();
  return {
    ingest,
    query,
    reader,
    topic,
    close: async () => {
      await reader.stop();
      await query.close();
      await ingest.close();
    },
  };
}
