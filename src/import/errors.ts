import { TrackhouseError } from '../common/errors.js';

/** A command-line argument `trackhouse import` cannot use; the message says what it expects. */
export class ImportArgumentError extends TrackhouseError {
  constructor(message: string) {
    super('IMPORT_ARGUMENT_INVALID', message);
  }
}

/** An input that cannot be read (missing, unreadable, corrupt gzip); resumable once fixed. */
export class ImportInputError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('IMPORT_INPUT_UNREADABLE', message, { cause });
  }
}

/** Kafka did not acknowledge a chunk after retries; the checkpoint holds what it did. */
export class ImportKafkaError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('IMPORT_KAFKA_FAILED', message, { retriable: true, cause });
  }
}
