#!/usr/bin/env node
// trackhouse command line. Each command lives in its own module under ./commands/.
import { holdHangup, settleHangup } from './hangup.js';
import { Command } from 'commander';
import { TrackhouseError } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { registerCommands, reloadsOnHangup } from './commands/index.js';
import { checkNode } from './preflight.js';
import { setV8Flags } from '../common/heap.js';

// First: a SIGHUP from here on is held until the command says what it means (./hangup.ts).
holdHangup();
// Before any command allocates: V8 flags that can be set at run time (../common/heap.ts).
setV8Flags();

const program = new Command('trackhouse')
  .description('Self-hosted event tracking: Segment-compatible ingest -> Kafka -> ClickHouse, with a query API')
  .version(VERSION, '-V, --version', "print trackhouse's version")
  .showHelpAfterError()
  // A command line it cannot take exits 2, as a bad setting does (commander's own code is 1).
  // Set before the commands are added, which inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  // A command that never reloads certificates has SIGHUP's default back before it runs; the others
  // settle it in their Lifecycle, once the config says whether TLS is on.
  .hook('preAction', (_program, command) => {
    if (!reloadsOnHangup(command.name())) settleHangup(false);
  });

await registerCommands(program);

try {
  checkNode();
  await program.parseAsync(process.argv);
  // The command is done (a server's stop included): exit now. Client libraries keep timers and
  // sockets (kafkajs retrying against a broker that is gone) that would hold the process open.
  process.exit(process.exitCode ?? 0);
} catch (err) {
  if (err instanceof TrackhouseError) {
    process.stderr.write(`trackhouse: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
