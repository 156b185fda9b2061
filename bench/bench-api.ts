import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { requestLabel } from '../src/domain/binding.js';
import { adminUser, tokenOf } from './bench-elevate.js';
import { progress } from './bench-io.js';

/** What the expiry benches share: Elevate's API as a requester and an admin sees it, and the cluster's side. */

/**
 * How far performance.timeOrigin is off the system clock. It is taken once at start-up and, on a loaded
 * machine, was seen 6 ms off Date.now() — enough to make a grant look removed before its expiresAt. The
 * server stamps expiresAt and its audit events with Date.now(), so the bench's clock is set to it: at the
 * moment Date.now() ticks over to the next millisecond, both name the same instant.
 */
function timeOriginOffset(): number {
  const offsets: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = Date.now();
    let now = before;
    while (now === before) now = Date.now();
    offsets.push(now - (performance.timeOrigin + performance.now()));
  }
  return offsets.sort((a, b) => a - b)[2] as number;
}
const offsetMs = timeOriginOffset();

/** Wall-clock milliseconds with sub-millisecond resolution, on the same clock as the server's timestamps. */
export const wallNow = () => performance.timeOrigin + performance.now() + offsetMs;

export interface AccessRequestBody {
  metadata: { name: string };
  status: { phase: string; message: string; grant: { expiresAt: string } | null };
}

export interface ApiResult {
  status: number;
  body: AccessRequestBody | { detail?: string; title?: string };
}

export function isActive(r: ApiResult): r is { status: number; body: AccessRequestBody } {
  return r.status === 201 && 'status' in r.body && r.body.status.phase === 'Active';
}

export function describeFailure(r: ApiResult): string {
  const b = r.body as { detail?: string; title?: string; status?: { phase?: string; message?: string } };
  return `HTTP ${r.status}: ${b.detail ?? b.title ?? `${b.status?.phase}: ${b.status?.message}`}`;
}

/** Elevate's HTTP API at `url`; every call is abandoned when `stopping` aborts (Ctrl-C, watchdog). */
export function benchApi(url: string, stopping: AbortSignal) {
  const signal = () => AbortSignal.any([stopping, AbortSignal.timeout(30_000)]);

  async function call(user: string, method: string, path: string, body?: unknown): Promise<ApiResult> {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokenOf(user)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: signal(),
    });
    return { status: res.status, body: (await res.json()) as ApiResult['body'] };
  }

  return {
    call,
    /** An auto-approved `view` grant for `user` in `namespace`. */
    requestAccess(user: string, namespace: string, durationMs: number): Promise<ApiResult> {
      return call(user, 'POST', '/accessrequests', {
        spec: { cluster: 'dev', role: 'view', namespace, duration: `${durationMs}ms`, reason: 'bench' },
      });
    },
    /**
     * When the server recorded each grant as expired: its GrantExpired audit event is written right after
     * the binding's DELETE returned, so it splits the revocation latency into Elevate's part and RBAC's.
     */
    async grantExpiredTimes(): Promise<Map<string, number>> {
      const res = await fetch(`${url}/api/v1/audit/export?format=jsonl`, {
        headers: { authorization: `Bearer ${tokenOf(adminUser)}` },
        signal: signal(),
      });
      const times = new Map<string, number>();
      if (!res.ok) return times;
      for (const line of (await res.text()).split('\n')) {
        if (!line) continue;
        const e = JSON.parse(line) as { action: string; requestId: string | null; time: string };
        if (e.action === 'GrantExpired' && e.requestId) times.set(e.requestId, Date.parse(e.time));
      }
      return times;
    },
  };
}

export type BenchApi = ReturnType<typeof benchApi>;

export async function createNamespace(kubeconfigPath: string, name: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
}

export interface BindingDeletions {
  /** Receipt time (wallNow) of the DELETED event of each request's binding, by request id. */
  seen: Map<string, number>;
  /** Called with the request id as each DELETED event arrives. */
  onDeleted?: (requestId: string) => void;
  stop(): void;
}

/**
 * Watches the RoleBindings of `namespace` (as the cluster admin) and notes when each Elevate binding's
 * deletion reaches the bench: the API server had deleted it by then, so it bounds Elevate's DELETE from
 * above without asking the authorizer. client-node ends a watch that hears nothing for a while (the wait
 * before a common expiry), so an ended watch is resumed from the last version seen, missing nothing.
 * Resolves once the watch is established.
 */
export async function watchBindingDeletions(
  kubeconfigPath: string,
  namespace: string,
): Promise<BindingDeletions> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const watch = new k8s.Watch(kc);
  const path = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`;
  let stopped = false;
  let resourceVersion: string | undefined;
  let current: AbortController | undefined;
  const deletions: BindingDeletions = {
    seen: new Map(),
    stop: () => {
      stopped = true;
      current?.abort();
    },
  };
  const onEvent = (type: string, obj: k8s.V1RoleBinding) => {
    resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
    const id = obj.metadata?.labels?.[requestLabel];
    if (type !== 'DELETED' || !id || deletions.seen.has(id)) return;
    deletions.seen.set(id, wallNow());
    deletions.onDeleted?.(id);
  };
  const start = async (): Promise<void> => {
    current = await watch.watch(
      path,
      resourceVersion ? { resourceVersion } : {},
      onEvent,
      (err?: unknown) => {
        if (stopped) return;
        // Too old a version (410) to resume from: start afresh; the sweep's fallback covers what is missed.
        if ((err as { statusCode?: number } | undefined)?.statusCode === 410) resourceVersion = undefined;
        setTimeout(
          () => void start().catch((e: Error) => progress(`binding watch could not resume: ${e.message}`)),
          100,
        );
      },
    );
  };
  await start();
  return deletions;
}
