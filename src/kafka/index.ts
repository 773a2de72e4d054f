export { createKafka, PRODUCER_RETRY } from './client.js';
export { compressionType, registerCompression } from './compression.js';
export { explainKafkaError } from './errors.js';
export { ensureLeaseTopic, ensureStreamTopics, ensureTopics, waitForLeaders } from './topics.js';
export { createRecordProducer, ProduceError, type OutRecord, type RecordProducer, type Submission, type SubmitOutcome } from './producer.js';
export { javaCompatiblePartitioner, murmur2, partitionForKey } from './partitioner.js';
export { createPartitionReader, type PartitionReader, type ReadBatch, type ReadRecord } from './reader.js';
export { createLease, leaseHolder, type Lease } from './lease.js';
export { createLogProducer, type LogProducer, type LogRecord } from './log-producer.js';
