import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { composeElevate, createLogger, type Elevate } from '../../src/composition-root.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createNamespace, uniqueName } from './kube.js';

/** People in the test token file: their tokens are `token-<name>`. */
export const people = {
  alice: ['devs'],
  dave: ['devs'],
  bob: ['sre-leads'],
  carol: ['sre-leads'],
  root: ['platform-admins'],
  mallory: ['contractors'],
} as const;
export type Person = keyof typeof people;

export const testPolicies = `
policies:
  - name: edit-needs-two
    match: { groups: [devs], roles: [edit] }
    decision: approval
    approval: { approvers: { groups: [sre-leads] }, required: 2, timeout: 1h }
    maxDuration: 2h
    allowEscalatingRoles: [edit]
  - name: admin-times-out
    match: { groups: [devs], roles: [admin] }
    decision: approval
    approval: { approvers: { users: [bob] }, required: 1, timeout: 2s }
    maxDuration: 1h
    allowEscalatingRoles: [admin]
  - name: local-roles
    match: { groups: [devs], roleKinds: [Role] }
    decision: auto
    maxDuration: 1h
  - name: view-auto
    match: { groups: [devs], roles: [view] }
    decision: auto
    maxDuration: 8h
  - name: anything-for-admin-tests
    match: { users: [dave] }
    decision: auto
    maxDuration: 1h
    allowEscalatingRoles: [edit, admin]
`;

export interface ElevateConfigOptions {
  /** Cluster name to kubeconfig path. */
  clusters: Record<string, string>;
  reconcileInterval?: string;
  /** A storage URL; default a fresh SQLite file next to the config. */
  storage?: string;
  /** host:port; the default port 0 picks a free one (only usable in-process, where start() reports it). */
  listen?: string;
  extra?: string;
  /** Cluster name to the token file its API server sends audit events with (clusters[].activity). */
  activityTokens?: Record<string, string>;
}

/** Writes a config, token file and database path into a fresh directory; returns the config file. */
export function writeElevateConfig(opts: ElevateConfigOptions): string {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-server-'));
  writeFileSync(
    join(dir, 'tokens.csv'),
    Object.entries(people)
      .map(([name, groups]) => `token-${name},${name},uid-${name},"${groups.join(',')}"`)
      .join('\n'),
  );
  const clusters = Object.entries(opts.clusters)
    .map(([name, kubeconfig]) => {
      const token = opts.activityTokens?.[name];
      const activity = token ? `\n    activity: { tokenFile: ${token} }` : '';
      return `  - name: ${name}\n    kubeconfig: ${kubeconfig}${activity}`;
    })
    .join('\n');
  const file = join(dir, 'elevate.yaml');
  writeFileSync(
    file,
    `listen: ${opts.listen ?? '127.0.0.1:0'}
storage: ${opts.storage ?? 'sqlite:./elevate.db'}
logLevel: warn
auth:
  tokenFile: ./tokens.csv
  admins: { groups: [platform-admins] }
clusters:
${clusters}
reconcile:
  interval: ${opts.reconcileInterval ?? '1s'}
# Tests watch grants expire, so they ask for seconds; a deployment keeps the 1m default.
limits:
  minDuration: 1s
${testPolicies}
${opts.extra ?? ''}`,
  );
  return file;
}

export interface RunningElevate {
  url: string;
  /** The config file; its directory holds the token file and the SQLite database (elevate.db). */
  configFile: string;
  elevate: Elevate;
  as(person: Person): Api;
  /** Whether this server holds the lease, as its /readyz says. */
  isLeader(): Promise<boolean>;
  stop(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by each test's assertions, not by types
type Json = any;

export interface ApiResponse<T = Json> {
  status: number;
  contentType: string;
  body: T;
}

export interface Api {
  get<T = Json>(path: string): Promise<ApiResponse<T>>;
  post<T = Json>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  raw(path: string, init: RequestInit): Promise<ApiResponse>;
}

export function apiFor(url: string, token: string | null): Api {
  const call = async (path: string, init: RequestInit): Promise<ApiResponse> => {
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    const res = await fetch(`${url}${path}`, { ...init, headers });
    const contentType = res.headers.get('content-type') ?? '';
    const text = await res.text();
    return {
      status: res.status,
      contentType,
      body: /^application\/(problem\+)?json/.test(contentType) ? JSON.parse(text) : text,
    };
  };
  return {
    get: (path) => call(path, { method: 'GET' }),
    post: (path, body = {}) =>
      call(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      }),
    raw: call,
  };
}

/** Runs a whole Elevate server in this process, as `elevate server` would. */
export async function startElevate(
  opts: ElevateConfigOptions,
  logger = createLogger('silent'),
): Promise<RunningElevate> {
  const file = writeElevateConfig(opts);
  const config = parseConfig((await import('node:fs')).readFileSync(file, 'utf8'), file);
  const elevate = await composeElevate(config, logger);
  const url = await elevate.start();
  return {
    url,
    configFile: file,
    elevate,
    as: (person) => apiFor(url, `token-${person}`),
    isLeader: async () => (await apiFor(url, null).get('/readyz')).body.leader === true,
    stop: () => elevate.stop(),
  };
}

export function requestBody(spec: Record<string, unknown>) {
  return {
    apiVersion: 'elevate.dev/v1',
    kind: 'AccessRequest',
    spec: { cluster: 'dev', reason: 'testing', ...spec },
  };
}

/** alice asks for `view` in `namespace` of `cluster` for `duration` (what most grant tests need). */
export function aliceAsksForView(
  server: Pick<RunningElevate, 'as'>,
  namespace: string,
  duration: string,
  cluster = 'dev',
): Promise<ApiResponse> {
  return server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ cluster, role: 'view', namespace, duration }));
}

/** The audit trail as an admin exports it (JSON lines), parsed. */
export async function auditEvents(server: RunningElevate): Promise<Json[]> {
  const jsonl = (await server.as('root').get('/api/v1/audit/export?format=jsonl')).body as string;
  return jsonl
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** How much the server holds: requests and audit events, to show that refused input changed nothing. */
export async function stateOf(server: RunningElevate): Promise<{ requests: number; auditLines: number }> {
  const requests = (await server.as('root').get('/api/v1/accessrequests')).body.items.length;
  const audit = (await server.as('root').get('/api/v1/audit/export?format=jsonl')).body as string;
  return { requests, auditLines: audit.split('\n').length };
}

/**
 * POSTs `body` as alice to create a request and checks it is refused as expected — a problem naming the
 * field, with the status and detail given. Bad input (400, 404…) stores and audits nothing; a refusal by
 * policy (403) leaves exactly the attempt on record: one request, Denied with that reason, and its
 * RequestRefused event.
 */
export async function expectCreateRefused(
  server: RunningElevate,
  body: unknown,
  expected: { status: number; detail: RegExp; field?: string | undefined },
): Promise<void> {
  const before = await stateOf(server);
  const res = await server.as('alice').post('/api/v1/accessrequests', body);
  expect(res.status).toBe(expected.status);
  expect(res.contentType).toContain('application/problem+json');
  expect(res.body.detail).toMatch(expected.detail);
  expect(res.body.status).toBe(expected.status);
  if (expected.field) expect(res.body.field).toBe(expected.field);
  const after = await stateOf(server);
  if (expected.status !== 403) {
    expect(after).toEqual(before);
    return;
  }
  expect(after).toEqual({ requests: before.requests + 1, auditLines: before.auditLines + 1 });
  expect(res.body.request).toMatch(/^ar-/);
  const recorded = await server.as('root').get(`/api/v1/accessrequests/${res.body.request}`);
  expect(recorded.body.status.phase).toBe('Denied');
  expect(recorded.body.status.decision.refusal.message).toBe(res.body.detail);
  expect(recorded.body.status.decision).toEqual(res.body.decision);
}

/** alice's active `view` grant in a fresh namespace of `cluster`, and its binding's name. */
export async function activeViewGrant(
  server: RunningElevate,
  {
    kubeconfig,
    cluster = 'dev',
    prefix = 'grant',
  }: { kubeconfig: string; cluster?: string; prefix?: string },
): Promise<{ ns: string; id: string; name: string }> {
  const ns = uniqueName(prefix);
  await createNamespace(kubeconfig, ns);
  const res = await server
    .as('alice')
    .post('/api/v1/accessrequests', requestBody({ cluster, role: 'view', namespace: ns, duration: '10m' }));
  expect(res.body.status.phase).toBe('Active');
  const id: string = res.body.metadata.name;
  return { ns, id, name: `elevate-${id}` };
}
