// Contract between the bench runner (bench/run.ts) and each scenario module (bench/<name>.ts).
// A scenario measures the project and its ceilings side by side in one run and returns both the
// raw figures (for the JSON result) and a Markdown table (for the human-readable result).

export interface BenchContext {
  /** The run's Kafka broker (a fresh local broker unless BENCH_KAFKA_BROKERS is set). */
  brokers: string[];
  /**
   * The broker's process (a sh watchdog whose child is the JVM: count its whole tree), for its
   * CPU seconds per million events; with BENCH_KAFKA_BROKERS, BENCH_BROKER_PID if set.
   */
  brokerPid?: number;
  /** Scratch folder for this scenario (data dirs, logs); removed after the run. */
  workDir: string;
  /** Absolute path of the project root (dist/ is built before the run). */
  root: string;
  /** BENCH_QUICK=1: short durations and small tables, for checking the harness, not for figures. */
  quick: boolean;
  /** Progress line to stderr. */
  log(message: string): void;
}

export interface BenchSection {
  name: string;
  /** Machine-readable figures; ratios against ceilings included. */
  results: Record<string, unknown>;
  /** Markdown (a heading, a table, and one line saying how it was measured). */
  markdown: string;
}

export type Scenario = (ctx: BenchContext) => Promise<BenchSection>;
