import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const processSchema = z.object({
  cluster: z.string(),
  name: z.string(),
  pid: z.number().int().positive(),
  cmdline: z.array(z.string()).min(1),
  log: z.string(),
});

const webhook = z.object({ url: z.string(), tokenFile: z.string(), caFile: z.string().optional() });

const stateSchema = z.object({
  version: z.literal(1),
  apiserverArgs: z.array(z.string()),
  /** Whether the clusters trust the testenv identity provider (DIR/idp), which runs beside them. */
  idp: z.boolean().optional(),
  /** Where the API servers send their audit events (testenv up --audit-webhook), if anywhere. */
  auditWebhook: webhook.nullable().optional(),
  /** Whom the API servers ask after Node and RBAC (testenv up --authz-webhook), if anyone. */
  authzWebhook: webhook.nullable().optional(),
  clusters: z.array(
    z.object({
      name: z.string(),
      server: z.string(),
      kubeconfigPath: z.string(),
      elevateKubeconfigPath: z.string(),
      dir: z.string(),
    }),
  ),
  processes: z.array(processSchema),
});

export type RecordedProcess = z.infer<typeof processSchema>;
export type TestenvState = z.infer<typeof stateSchema>;

const stateFile = (dir: string) => join(dir, 'testenv.json');

export function readTestenvState(dir: string): TestenvState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${stateFile(dir)}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

// Written synchronously and renamed into place: clusters start concurrently and each records its processes
// the moment they exist, so a crash halfway still leaves a file that testenvDown can act on.
export function writeTestenvState(dir: string, state: TestenvState): void {
  const tmp = `${stateFile(dir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, stateFile(dir));
}

export function removeTestenvState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}
