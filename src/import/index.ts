export { Checkpoint } from './checkpoint.js';
export { parseCsvMapping, type CsvMapping } from './csvmap.js';
export { ImportArgumentError, ImportInputError, ImportKafkaError } from './errors.js';
export { derivedEventId } from './ids.js';
export { listInputs, type Input } from './inputs.js';
export { IMPORT_FORMATS, prepareImport, runImport, VENDOR_FORMATS, type ImportFormat, type ImportSummary, type PreparedImport } from './importer.js';
export { barReporter, logReporter, silentReporter, type ProgressReporter } from './progress.js';
export { checkMixpanelGroupKey } from './formats.js';
export { checkMixpanelTimezone } from './timezone.js';
