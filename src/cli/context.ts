import { type Command, Option } from 'commander';
import type { AccessRequestResource } from '../http/resources.js';
import { createApiClient } from './api-client.js';
import { describeRequest } from './render.js';

/** Commands that print an access request take `-o json` for the whole object. */
export type Output = { output?: 'json' };

export const outputOption = () => new Option('-o, --output <format>', 'output format').choices(['json']);

/** The API client for the server and token given as global options (or ELEVATE_SERVER / ELEVATE_TOKEN). */
export function client(cmd: Command) {
  const { server, token } = cmd.optsWithGlobals<{ server: string; token?: string }>();
  return createApiClient({ server, token });
}

/** The whole request: described for people, or as JSON. */
export function printRequest(r: AccessRequestResource, opts: Output): void {
  console.log(opts.output === 'json' ? JSON.stringify(r, null, 2) : describeRequest(r));
}

/** What a change did, in one line (`accessrequest/ar-… Active: …`), or the whole request as JSON. */
export function printOutcome(r: AccessRequestResource, opts: Output): void {
  if (opts.output === 'json') printRequest(r, opts);
  else console.log(`accessrequest/${r.metadata.name} ${r.status.phase}: ${r.status.message}`);
}
