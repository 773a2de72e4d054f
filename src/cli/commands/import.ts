import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createLogger } from '../../common/log.js';
import { loadConfig, SOURCE_NAME, SOURCE_NAME_RULE } from '../../config/index.js';
import {
  barReporter,
  Checkpoint,
  checkMixpanelGroupKey,
  checkMixpanelTimezone,
  IMPORT_FORMATS,
  listInputs,
  logReporter,
  parseCsvMapping,
  prepareImport,
  silentReporter,
  type ImportFormat,
  type ImportSummary,
} from '../../import/index.js';
import { compressionType, createKafka, createRecordProducer, ensureTopics, explainKafkaError } from '../../kafka/index.js';
import { createAuditLog } from '../../audit/index.js';
import { startErasureReader } from '../../erasure/index.js';
import { kafkaBrokers } from '../brokers.js';

interface ImportCliOptions {
  format: ImportFormat;
  map?: string;
  csvType: string;
  csvDelimiter: string;
  source: string;
  rate?: number;
  restart?: boolean;
  checkpoint?: string;
  progress: 'auto' | 'bar' | 'json' | 'off';
  mixpanelTimezone?: string;
  groupKey?: string;
}

function positiveRate(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected events per second, a number above 0');
  return n;
}

/** As a write key's source (TRACKHOUSE_WRITE_KEYS): later stages key by it. */
function sourceName(v: string): string {
  if (!SOURCE_NAME.test(v)) throw new InvalidArgumentError(`expected ${SOURCE_NAME_RULE}`);
  return v;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'load history into Kafka through the edge\'s own validation: NDJSON or JSON arrays of Segment events or of another ' +
        'tool\'s events, or CSV with a column mapping; gzip or not (told by its bytes); resumable after Ctrl-C or a crash ' +
        '(a checkpoint in the data dir; events keep their id, or get one derived from file and line, so none lands twice)',
    )
    .argument('<inputs...>', 'files, folders (every file inside, recursively), or - for stdin')
    .addOption(new Option('--format <format>', 'what each line or element is; auto: CSV for *.csv[.gz], else Segment').choices(IMPORT_FORMATS).default('auto'))
    .option('--map <pairs>', 'CSV: field=column pairs, e.g. userId=user,event=action,timestamp=ts,properties.plan=plan; unmapped columns become properties')
    .option('--csv-type <type>', 'CSV: the call type when no column is mapped to type', 'track')
    .option('--csv-delimiter <char>', 'CSV: the field delimiter', ',')
    .option('--mixpanel-timezone <zone>', 'Mixpanel: the project\'s time zone, for raw exports of projects created before 2023, whose times are that zone\'s wall clock')
    .option('--group-key <key>', 'mixpanel-groups: the group key (e.g. company) of a Mixpanel group profile export, whose entries do not name it')
    .option('--source <name>', `the source stamped on every event (${SOURCE_NAME_RULE})`, sourceName, 'import')
    .option('--rate <events/s>', 'at most this many events per second', positiveRate)
    .option('--restart', 'ignore the checkpoint and start every input from the beginning')
    .option('--checkpoint <file>', 'where progress is kept (default: <TRACKHOUSE_DATA_DIR>/import-checkpoint.json)')
    .addOption(new Option('--progress <how>', 'a bar on a terminal, JSON log lines otherwise').choices(['auto', 'bar', 'json', 'off']).default('auto'))
    .action(async (args: string[], options: ImportCliOptions) => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'import' }, 'stderr');
      const csv = parseCsvMapping(options.map, options.csvType);
      if (options.mixpanelTimezone !== undefined) checkMixpanelTimezone(options.mixpanelTimezone, options.format);
      if (options.groupKey !== undefined) checkMixpanelGroupKey(options.groupKey, options.format);
      const inputs = listInputs(args);
      const checkpoint = new Checkpoint(path.resolve(options.checkpoint ?? path.join(config.dataDir, 'import-checkpoint.json')), options.restart === true);
      const useBar = options.progress === 'bar' || (options.progress === 'auto' && process.stderr.isTTY === true);
      const progress = options.progress === 'off' ? silentReporter : useBar ? barReporter(process.stderr) : logReporter(log);
      const abort = new AbortController();
      // Ctrl-C / SIGTERM: stop reading, wait for Kafka's acks of what was sent, save the checkpoint.
      // A second signal exits at once; the checkpoint on disk is then the last one saved. Set up
      // before Kafka is reached, so a Ctrl-C while it connects (kafkajs retries for ~20 s) ends
      // with a summary too. process.exit, not hardexit.ts's exitNow: this process never opens chDB,
      // and what its libuv pool threads run (file reads, compression) ends in milliseconds.
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) process.exit(130);
        log.warn({ signal: sig }, 'import: stopping after Kafka acknowledges what was sent; run the same command to resume');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const offSignals = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      };
      // The reading thread starts now: it loads while Kafka connects below.
      const prepared = prepareImport(config, {
        inputs,
        format: options.format,
        csv,
        csvDelimiter: options.csvDelimiter,
        mixpanelTimezone: options.mixpanelTimezone ?? null,
        mixpanelGroupKey: options.groupKey ?? null,
        source: options.source,
        rate: options.rate ?? null,
        checkpoint,
        progress,
        progressEveryMs: useBar ? 250 : 5_000,
        signal: abort.signal,
      });
      const brokers = kafkaBrokers(config);
      const explain = (err: unknown) => {
        throw explainKafkaError(err, config.kafka, brokers);
      };
      const kafka = createKafka(config.kafka, log, brokers);
      const interrupted = new Promise<null>((resolve) => abort.signal.addEventListener('abort', () => resolve(null), { once: true }));
      const setup = (async () => {
        await ensureTopics(kafka, config.kafka).catch(explain);
        const producer = await createRecordProducer({
          kafka,
          log,
          compression: compressionType(config.kafka.compression),
          ackTimeoutMs: Math.max(30_000, config.ingest.ackTimeoutMs),
          maxPendingBytes: 64 * 1024 * 1024,
          maxRequestBytes: config.ingest.produceMaxBytes,
          // One lane unless set otherwise: the import's reading thread keeps encoding while a produce
          // request waits for the broker, so a second lane only adds requests (measured: fewer, larger
          // requests cost the importer and the broker less CPU per event).
          lanes: config.ingest.producerLanes,
          probeTopic: config.kafka.topics.events,
        }).catch(explain);
        // An import brings history back: erased and suppressed users are refused, so the list is loaded first.
        const erasures = await startErasureReader(kafka, config.kafka.topics.regulations, log).catch(explain);
        await erasures.loaded;
        const audit = await createAuditLog(kafka, config.kafka.topics.audit).catch(explain);
        return { producer, erasures, audit };
      })().catch(async (err: unknown) => {
        await prepared.cancel();
        offSignals();
        throw err;
      });
      const ready = await Promise.race([setup, interrupted]);
      if (ready === null) {
        // Nothing was sent: the reading thread stops, and the checkpoint is as it was.
        setup.catch(() => {});
        await prepared.cancel();
        offSignals();
        const summary: Partial<ImportSummary> = { files: inputs.length, loaded: 0, rejected: 0, interrupted: true };
        process.stdout.write(`${JSON.stringify({ ...summary, checkpoint: checkpoint.file })}\n`);
        process.stderr.write(`import interrupted before Kafka was reached (${brokers.join(',')}, KAFKA_BROKERS): nothing was sent; run the same command to start\n`);
        process.exitCode = 130;
        return;
      }
      const { producer, erasures, audit } = ready;
      let summary: ImportSummary;
      try {
        summary = await prepared.run({ producer, log, erasures: erasures.list });
      } finally {
        offSignals();
        await producer.close(config.shutdownTimeoutMs);
        await erasures.stop();
      }
      await audit
        .record({
          time: Date.now(),
          actor: 'process:import',
          action: 'import',
          id: `import_${Date.now().toString(36)}`,
          scope: { topic: config.kafka.topics.events, source: options.source, inputs: inputs.map((i) => i.name), checkpoint: checkpoint.file },
          counts: { loaded: summary.loaded, rejected: summary.rejected, files: summary.files, skippedFiles: summary.skippedFiles, durationMs: summary.durationMs },
          outcome: summary.interrupted ? 'failed' : 'ok',
        })
        .finally(() => audit.close());
      process.stdout.write(`${JSON.stringify({ ...summary, checkpoint: checkpoint.file })}\n`);
      const reasons = Object.entries(summary.rejectedBy)
        .map(([code, r]) => `\n  ${code}: ${r.count} (e.g. ${r.example})`)
        .join('');
      process.stderr.write(
        `import ${summary.interrupted ? 'interrupted' : 'done'}: loaded ${summary.loaded}, rejected ${summary.rejected}` +
          `${summary.rejected > 0 ? ` (to ${config.kafka.topics.rejected})` : ''} in ${(summary.durationMs / 1000).toFixed(1)} s, ` +
          `${summary.eventsPerSecond} events/s; ${summary.skippedFiles} of ${summary.files} inputs already done, ` +
          `${summary.resumedAfter} items skipped from an earlier run${reasons}\n`,
      );
      if (summary.interrupted) process.exitCode = 130;
    });
}
