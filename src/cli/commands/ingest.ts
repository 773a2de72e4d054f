import type { Command } from 'commander';

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('not built yet')
    .action(() => {
      throw new Error('trackhouse ingest is not built yet');
    });
}
