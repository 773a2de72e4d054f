export { createKafka } from './client.js';
export { compressionType, registerCompression } from './compression.js';
export { ensureTopics } from './topics.js';
