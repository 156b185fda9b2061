import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { apiFor, type Person, requestBody, writeElevateConfig } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

/**
 * The API conformance pass: schemathesis generates requests from /openapi.json (examples, coverage of every
 * boundary, fuzzing, stateful sequences) against a real server on the shared test clusters and checks every
 * answer against the document. Any failure fails the run, so every endpoint stays as documented.
 */

const repo = join(import.meta.dirname, '..', '..');
// Fixed, so a failure is reproduced by running the same command again.
const seed = 20261122;
// Per operation and persona, on top of the deterministic coverage phase; 50 keeps the pass near 80 s on 2 CPUs
// as the API grows (each new endpoint adds its share).
const maxExamples = 50;

let server: { url: string; stop: () => Promise<void> };
let schemathesis: string;
/** Real values schemathesis mixes into what it generates, so cases reach the logic behind 404s. */
let dictionaries: string;

beforeAll(async () => {
  // Installed by `make test` already; this is a no-op then, and installs it for a run started otherwise.
  const { stdout } = await promisify(execFile)('bash', [join(repo, 'scripts/ensure-schemathesis.sh')]);
  schemathesis = stdout.trim();
  const ns = uniqueName('conformance');
  await createNamespace(testKubeconfig('dev'), ns);
  server = await startConformanceServer();
  const alice = apiFor(server.url, 'token-alice');
  const names: string[] = [];
  for (const spec of [
    { role: 'edit', namespace: ns, duration: '2h' },
    { role: 'view', namespace: ns, duration: '1h' },
  ]) {
    const created = await alice.post('/api/v1/accessrequests', requestBody(spec));
    expect(created.status).toBe(201);
    names.push(created.body.metadata.name);
  }
  dictionaries = join(mkdtempSync(join(tmpdir(), 'elevate-schemathesis-')), 'schemathesis.toml');
  writeFileSync(
    dictionaries,
    `[dictionaries.names]
values = ${JSON.stringify(names)}
[dictionaries.namespaces]
values = ["${ns}"]
[dictionaries.roles]
values = ["view", "edit", "admin"]
[parameters]
"path.name" = { dictionary = "names", probability = 0.5 }
"body.spec.namespace" = { dictionary = "namespaces", probability = 0.7 }
"body.spec.role" = { dictionary = "roles", probability = 0.5 }
`,
  );
});

/**
 * A server as startElevate starts one, except that failed authentications are not throttled: the pass
 * deliberately sends hundreds of requests without a valid token from one address, and schemathesis requires
 * each of them to be answered 401. The throttle has its own test (auth-throttle.test.ts).
 */
async function startConformanceServer() {
  const file = writeElevateConfig({
    clusters: { dev: elevateKubeconfig('dev') },
    reconcileInterval: '30s',
  });
  const text = readFileSync(file, 'utf8').replace(
    /^auth:\n/m,
    'auth:\n  throttle: { maxFailures: 1000000 }\n',
  );
  const elevate = await composeElevate(parseConfig(text, file), createLogger('silent'));
  const url = await elevate.start();
  return { url, stop: () => elevate.stop() };
}

// The pass creates real grants (cluster-wide ones too): end them all before other files use the cluster.
afterAll(async () => {
  if (!server) return;
  const root = apiFor(server.url, 'token-root');
  for (const r of (await root.get('/api/v1/accessrequests')).body.items) {
    const action = r.status.phase === 'Pending' ? 'cancel' : 'revoke';
    if (['Pending', 'Approved', 'Scheduled', 'Active'].includes(r.status.phase)) {
      const res = await root.post(`/api/v1/accessrequests/${r.metadata.name}/${action}`);
      expect(res.status).toBe(200);
    }
  }
  const left = (await root.get('/api/v1/accessrequests')).body.items.filter(
    (r: { status: { phase: string } }) => ['Approved', 'Scheduled', 'Active'].includes(r.status.phase),
  );
  expect(left).toEqual([]);
  await server.stop();
});

interface Run {
  code: number | null;
  output: string;
  /** JUnit report and the whole output, kept for a closer look. */
  reportDir: string;
  report: { operations: number; cases: number; failures: number; seconds: number };
}

async function runSchemathesis(person: Person): Promise<Run> {
  const reportDir = mkdtempSync(join(tmpdir(), 'elevate-schemathesis-'));
  const junit = join(reportDir, 'junit.xml');
  const started = performance.now();
  const args = [
    '--no-color',
    '--config-file',
    dictionaries,
    'run',
    `${server.url}/openapi.json`,
    '--checks',
    'all',
    '--seed',
    String(seed),
    '--max-examples',
    String(maxExamples),
    '--workers',
    '1',
    '--header',
    `Authorization: Bearer token-${person}`,
    '--report',
    'junit',
    '--report-junit-path',
    junit,
  ];
  const child = spawn(schemathesis, args, {
    env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', NO_COLOR: '1', COLUMNS: '120' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const seconds = Math.round((performance.now() - started) / 1000);
  writeFileSync(join(reportDir, 'output.txt'), output);
  return { code, output, reportDir, report: { ...summaryOf(output, junit), seconds } };
}

/**
 * The counts: operations, cases and unique failures from the summary, failing operations from the JUnit
 * report when the summary has no failure count ("799 generated, 799 passed" or "708 generated, 7 found 8 unique
 * failures").
 */
function summaryOf(output: string, junit: string) {
  let xml = '';
  try {
    xml = readFileSync(junit, 'utf8');
  } catch {
    // No report: the counts below stay NaN and the assertions say so.
  }
  const attr = (name: string) =>
    Number(new RegExp(`<testsuites[^>]* ${name}="(\\d+)"`).exec(xml)?.[1] ?? Number.NaN);
  const cases = Number(/(\d+) generated/.exec(output)?.[1] ?? Number.NaN);
  const unique = /found (\d+) unique failures?/.exec(output)?.[1];
  return {
    // The JUnit report also counts the stateful phase as a test case: take the summary's count.
    operations: Number(/Tested: (\d+)/.exec(output)?.[1] ?? Number.NaN),
    cases,
    failures: unique === undefined ? attr('failures') + attr('errors') : Number(unique),
  };
}

describe('API conformance (schemathesis, all checks)', () => {
  // The two runs at once: each is mostly schemathesis waiting for the server's answers, so on two cores they
  // take little longer together than one alone.
  it.concurrent.for<[string, Person]>([
    ['as a requester', 'alice'],
    ['as an admin', 'root'],
  ])(
    '%s: every generated request is answered as documented',
    { timeout: 600_000 },
    async ([what, person], { expect }) => {
      const run = await runSchemathesis(person);
      const { operations, cases, failures, seconds } = run.report;
      process.stdout.write(
        `schemathesis ${what} (${person}): ${operations} operations, ${cases} cases, ${failures} failures, ` +
          `${seconds}s (output in ${run.reportDir})\n`,
      );
      expect(run.code, run.output).toBe(0);
      expect(failures, run.output).toBe(0);
      expect(operations, run.output).toBeGreaterThan(10);
      expect(cases, run.output).toBeGreaterThan(operations);
    },
  );
});
