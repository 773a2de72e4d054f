import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from './index.js';

const ALL = ['start', 'ingest', 'sink', 'query', 'alerts', 'migrate', 'replay', 'import', 'kafka'];

describe('registerCommands', () => {
  it('registers only the command that runs', async () => {
    const program = new Command('trackhouse');
    await registerCommands(program, ['node', 'main.js', 'import', 'x.ndjson']);
    expect(program.commands.map((c) => c.name())).toEqual(['import']);
  });

  it('registers every command, in order, for help and for an unknown name', async () => {
    for (const argv of [['node', 'main.js'], ['node', 'main.js', '--help'], ['node', 'main.js', 'help', 'import'], ['node', 'main.js', 'nope'], ['node', 'main.js', 'toString']]) {
      const program = new Command('trackhouse');
      await registerCommands(program, argv);
      expect(program.commands.map((c) => c.name()), argv.join(' ')).toEqual(ALL);
    }
  }, 60_000);
});
