import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kubeSchemaDir as cachedKubeSchemaDir, writeCrdSchemas } from '../../scripts/kube-json-schemas.js';

const repo = join(import.meta.dirname, '..', '..');
const homeCrds = join(repo, 'deploy', 'kubernetes', 'crds.yaml');
// Helm keeps repositories, plugins and registry logins under these; tests must neither read the machine's nor leave theirs.
const helmHome = mkdtempSync(join(tmpdir(), 'elevate-helm-home-'));
const helmEnv = {
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

export interface Run {
  code: number;
  /** stdout then stderr, for assertions on messages. */
  out: string;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(
      file,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 256 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, out: stdout + stderr, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

let toolsDir: Promise<string> | undefined;

/**
 * The directory holding helm and kubeconform, built by scripts/build-helm-tools.sh the first time (minutes:
 * `make test` does it beforehand, a test calling this cold needs a long hook timeout).
 */
export function helmToolsDir(): Promise<string> {
  toolsDir ??= run('bash', [join(repo, 'scripts', 'build-helm-tools.sh')]).then(
    ({ code, stdout, stderr }) => {
      if (code !== 0) {
        toolsDir = undefined;
        throw new Error(`build-helm-tools.sh failed: ${stderr}`);
      }
      return stdout.trim();
    },
  );
  return toolsDir;
}

let kubeDir: string | undefined;

/** kubeconform schemas of the Kubernetes version pinned in tools/kube/go.mod (scripts/kube-json-schemas.ts). */
export function kubeSchemaDir(): string {
  kubeDir ??= cachedKubeSchemaDir(() => {});
  return kubeDir;
}

const crdDirs = new Map<string, string>();

/** kubeconform schemas of the CRDs in `crdFile` (the working tree's deploy/kubernetes/crds.yaml by default). */
export function crdSchemaDir(crdFile = homeCrds): string {
  const file = resolve(crdFile);
  let dir = crdDirs.get(file);
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'elevate-crd-schemas-'));
    writeCrdSchemas(file, dir, kubeSchemaDir());
    crdDirs.set(file, dir);
  }
  return dir;
}

/** Where kubeconform finds a kind's schema in a directory written by scripts/kube-json-schemas.ts. */
export const schemaLocation = (dir: string): string => join(dir, '{{ .ResourceKind }}{{ .KindSuffix }}.json');

export type KubeconformStatus = 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped';

export interface KubeconformResult {
  /** Every document checked, valid ones too; empty documents (a leading `---`) are left out. */
  resources: {
    filename: string;
    kind: string;
    name: string;
    version: string;
    status: KubeconformStatus;
    msg: string;
    validationErrors?: { path: string; msg: string }[];
  }[];
  /** A document without a schema counts in errors, not skipped, unless its kind is in `skip`. */
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

export interface KubeconformOptions {
  /** Kinds (or group/version/kind) not to check, counted as skipped: e.g. a CRD that is not ours. */
  skip?: string[];
  /** A YAML file of CRDs whose objects are checked too; deploy/kubernetes/crds.yaml by default. */
  crds?: string;
  /** More kubeconform flags. */
  args?: string[];
}

/**
 * kubeconform in strict mode against the pinned Kubernetes' schemas and the CRDs': `input` is a list of files
 * or directories, or YAML text. An unknown field, a wrong type or a missing required field makes a document invalid.
 */
export async function kubeconform(
  input: string[] | string,
  { skip = [], crds = homeCrds, args = [] }: KubeconformOptions = {},
): Promise<KubeconformResult> {
  const bin = join(await helmToolsDir(), 'kubeconform');
  const ran = await run(
    bin,
    [
      '-strict',
      '-summary',
      '-verbose',
      '-output',
      'json',
      '-schema-location',
      schemaLocation(kubeSchemaDir()),
      '-schema-location',
      schemaLocation(crdSchemaDir(crds)),
      ...(skip.length > 0 ? ['-skip', skip.join(',')] : []),
      ...args,
      ...(typeof input === 'string' ? ['-'] : input),
    ],
    typeof input === 'string' ? { input } : {},
  );
  let result: KubeconformResult;
  try {
    result = JSON.parse(ran.stdout) as KubeconformResult;
  } catch {
    throw new Error(`kubeconform exited ${ran.code}: ${ran.out}`);
  }
  return { ...result, resources: result.resources.filter((r) => (r.status as string) !== '') };
}

/**
 * helm with `args`, its repositories and caches in a directory of this test process. Parse `stdout` for rendered
 * manifests: helm writes warnings to stderr.
 */
export async function helm(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  const bin = join(await helmToolsDir(), 'helm');
  return run(bin, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, ...helmEnv, ...opts.env },
  });
}
