import type { Command } from 'commander';

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('not built yet')
    .action(() => {
      throw new Error('trackhouse query is not built yet');
    });
}
