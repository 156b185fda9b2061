import type { Command } from 'commander';

/** Helpers for the token file the server reads (auth.tokenFile). */
export function addTokenCommands(program: Command): void {
  const token = program.command('token').description('bearer tokens for the token file');
  token
    .command('hash')
    .description(
      'read a token on stdin; print the sha256:… form to put in the token file instead of the token',
    )
    .action(async () => {
      const { hashedTokenField } = await import('../../adapters/auth/token-file.js');
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const value = input.trim();
      if (!value) throw new Error('no token on stdin');
      console.log(hashedTokenField(value));
    });
}
