import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeElevate, createLogger } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { type Person, writeElevateConfig } from '../support/elevate.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName } from '../support/kube.js';

/**
 * The API conformance pass: schemathesis generates requests from /openapi.json (examples, coverage of every
 * boundary, fuzzing, stateful sequences) against a real server on the shared test clusters and checks every
 * answer against the document. Any failure fails the run, so every endpoint stays as documented.
 */

const repo = join(import.meta.dirname, '..', '..');
// Fixed, so a failure is reproduced by running the same command again.
const seed = 20261122;
const maxExamples = 40;

let server: { url: string; stop: () => Promise<void> };
let schemathesis: string;

beforeAll(async () => {
  // Installed by `make test` already; this is a no-op then, and installs it for a run started otherwise.
  const { stdout } = await promisify(execFile)('bash', [join(repo, 'scripts/ensure-schemathesis.sh')]);
  schemathesis = stdout.trim();
  await createNamespace(testKubeconfig('dev'), uniqueName('conformance'));
  server = await startConformanceServer();
});

/**
 * A server as startElevate starts one, except that failed authentications are not throttled: the pass
 * deliberately sends hundreds of requests without a valid token from one address, and schemathesis requires
 * each of them to be answered 401. The throttle has its own test (auth-throttle.test.ts).
 */
async function startConformanceServer() {
  const file = writeElevateConfig({
    clusters: { dev: elevateKubeconfig('dev'), dev2: elevateKubeconfig('dev2') },
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

afterAll(async () => {
  await server?.stop();
});

interface Run {
  code: number | null;
  output: string;
  report: { operations: number; cases: number; failures: number; seconds: number };
}

async function runSchemathesis(person: Person): Promise<Run> {
  const reportDir = mkdtempSync(join(tmpdir(), 'elevate-schemathesis-'));
  const junit = join(reportDir, 'junit.xml');
  const started = performance.now();
  const args = [
    '--no-color',
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
  return { code, output, report: { ...summaryOf(output, junit), seconds } };
}

/**
 * The counts: operations and failing operations from the JUnit report (one test case per operation), cases
 * and unique failures from the summary ("799 generated, 799 passed" or "708 generated, 7 found 8 unique
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
    operations: attr('tests'),
    cases,
    failures: unique === undefined ? attr('failures') + attr('errors') : Number(unique),
  };
}

describe('API conformance (schemathesis, all checks)', () => {
  it.each<[string, Person]>([
    ['as a requester', 'alice'],
    ['as an admin', 'root'],
  ])('%s: every generated request is answered as documented', { timeout: 600_000 }, async (what, person) => {
    const run = await runSchemathesis(person);
    const { operations, cases, failures, seconds } = run.report;
    process.stdout.write(
      `schemathesis ${what} (${person}): ${operations} operations, ${cases} cases, ${failures} failures, ${seconds}s\n`,
    );
    expect(run.code, run.output).toBe(0);
    expect(failures, run.output).toBe(0);
    expect(operations, run.output).toBeGreaterThan(10);
    expect(cases, run.output).toBeGreaterThan(operations);
  });
});
