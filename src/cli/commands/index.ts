import type { Command } from 'commander';

type Register = (program: Command) => void;

// Each command's module is loaded only when it runs: `trackhouse import` has no use for the
// sink's chDB, the edge's uWebSockets.js or GraphQL, and loading all of them cost ~1 s of CPU at
// every start (measured: 1.2 s CPU before the first line of an import). Help and an unknown name
// load them all, in this order, so `trackhouse --help` lists every command.
const COMMANDS: Record<string, () => Promise<Register>> = {
  start: async () => (await import('./start.js')).registerStart,
  ingest: async () => (await import('./ingest.js')).registerIngest,
  sink: async () => (await import('./sink.js')).registerSink,
  query: async () => (await import('./query.js')).registerQuery,
  alerts: async () => (await import('./alerts.js')).registerAlerts,
  migrate: async () => (await import('./migrate.js')).registerMigrate,
  replay: async () => (await import('./replay.js')).registerReplay,
  import: async () => (await import('./import.js')).registerImport,
  kafka: async () => (await import('./kafka.js')).registerKafka,
};

/** The commands whose Lifecycle reloads the TLS certificate files on SIGHUP when TLS is on. */
const RELOAD_ON_HANGUP = new Set(['start', 'ingest', 'query']);

export function reloadsOnHangup(name: string): boolean {
  return RELOAD_ON_HANGUP.has(name);
}

/** Registers the command named by `argv` (node, script, command, ...), or every command. */
export async function registerCommands(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  const name = argv[2];
  const names = name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  for (const n of names) (await COMMANDS[n]!())(program);
}
