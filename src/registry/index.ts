// A read-only Confluent Schema Registry API over the event schemas, on the query port, so Kafka
// tools decode trackhouse.events with no registry of their own.
export { registryError, SchemaRegistryAnswers, type RegistryAnswer } from './answers.js';
export { addRegistryRoutes, carriesReadKey, REGISTRY_PATH, registrySegments, type RegistryRoutesOptions } from './routes.js';
