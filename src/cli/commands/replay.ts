import type { Command } from 'commander';

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('not built yet')
    .action(() => {
      throw new Error('trackhouse replay is not built yet');
    });
}
