#!/usr/bin/env node
import { Command, Option } from 'commander';
import { version } from '../version.js';
import { ApiError } from './api-client.js';
import { addActivityCommands } from './commands/activity.js';
import { addAuditCommands } from './commands/audit.js';
import { addBreakglassCommands } from './commands/breakglass.js';
import { addClusterCommands } from './commands/clusters.js';
import { addCredentialCommands } from './commands/credentials.js';
import { addLoginCommands } from './commands/login.js';
import { addMfaCommands } from './commands/mfa.js';
import { addPolicyCommands } from './commands/policy.js';
import { addRequestCommands } from './commands/requests.js';
import { addReviewCommands } from './commands/review.js';
import { addServerCommand } from './commands/server.js';
import { addTestenvCommands } from './commands/testenv.js';
import { addTokenCommands } from './commands/tokens.js';

export function buildProgram(): Command {
  const program = new Command('elevate')
    .description('Just-in-time privileged access for Kubernetes')
    .version(version)
    .addOption(
      new Option('--server <url>', 'Elevate server URL')
        .env('ELEVATE_SERVER')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(new Option('--token <token>', 'bearer token').env('ELEVATE_TOKEN'))
    .showHelpAfterError();
  addServerCommand(program);
  addRequestCommands(program);
  addLoginCommands(program);
  addClusterCommands(program);
  addCredentialCommands(program);
  addBreakglassCommands(program);
  addReviewCommands(program);
  addAuditCommands(program);
  addActivityCommands(program);
  addTokenCommands(program);
  addMfaCommands(program);
  addPolicyCommands(program);
  addTestenvCommands(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((e: Error) => {
    console.error(`error: ${e.message}`);
    // 3: the server could not be reached at all, so a script can tell "refused" from "down".
    process.exit(e instanceof ApiError && e.status === 0 ? 3 : 1);
  });
