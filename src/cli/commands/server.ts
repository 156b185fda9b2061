import type { Command } from 'commander';

export function addServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the Elevate server')
    .requiredOption('--config <file>', 'config file (YAML)')
    .action(async (opts: { config: string }) => {
      // Loaded only here: the client commands should not pay for the server's modules.
      const { runServer } = await import('../../server.js');
      await runServer(opts.config);
    });
}
