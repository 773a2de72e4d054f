export { createKafka } from './client.js';
export { compressionType, registerCompression } from './compression.js';
export { explainKafkaError } from './errors.js';
export { ensureTopics } from './topics.js';
export { createRecordProducer, ProduceError, type OutRecord, type RecordProducer, type Submission, type SubmitOutcome } from './producer.js';
export { javaCompatiblePartitioner, murmur2, partitionForKey } from './partitioner.js';
