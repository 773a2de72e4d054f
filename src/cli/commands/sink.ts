import type { Command } from 'commander';

export function registerSink(program: Command): void {
  program
    .command('sink')
    .description('not built yet')
    .action(() => {
      throw new Error('trackhouse sink is not built yet');
    });
}
