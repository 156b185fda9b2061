import type * as k8s from '@kubernetes/client-node';
import { backoffMs } from '../../jobs/backoff.js';
import type { BindingEventType } from '../../services/ports.js';

/**
 * How long the API server keeps one watch open. client-node's Watch aborts a stream that has been silent
 * for 30 s, and on a quiet cluster nothing is sent for much longer; asking the server to end the watch
 * sooner makes a quiet watch end normally (then it is resumed at once), so only a watch silent past its
 * own end — a dead connection — times out and backs off.
 */
const serverTimeoutSeconds = 20;
/** A watch the server ends normally sooner than this, having sent nothing, is treated as failing. */
const shortestNormalWatchMs = 1000;

/** Anything the API server lists and watches: bindings, Elevate's own custom resources. */
export interface KubeObject {
  metadata?: k8s.V1ObjectMeta;
}

export interface ObjectList<T extends KubeObject> {
  items: T[];
  metadata?: { resourceVersion?: string };
}
export type BindingList = ObjectList<k8s.V1RoleBinding>;

export interface ObjectWatchDeps<T extends KubeObject> {
  watch: Pick<k8s.Watch, 'watch'>;
  /** The collection's path, e.g. /apis/rbac.authorization.k8s.io/v1/rolebindings. */
  path: string;
  labelSelector?: string;
  list: () => Promise<ObjectList<T>>;
  onEvent: (type: BindingEventType, object: T) => void;
  onError: (error: Error) => void;
}

const keyOf = (b: KubeObject) => `${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;

/**
 * Lists once, then watches from the list's resourceVersion for as long as it is not stopped: a watch the
 * server ends is resumed at once from the last resourceVersion seen (events or bookmarks), so nothing
 * that happened in between is lost; a real failure is reported and retried with backoff, reset by the next
 * watch that works; 410 Gone (that resourceVersion is no longer kept) lists again and reports what
 * changed meanwhile as events, deletions included.
 */
export function watchObjects<T extends KubeObject>(deps: ObjectWatchDeps<T>): { stop(): void } {
  let stopped = false;
  /** Where the next watch starts; null: list first. */
  let resourceVersion: string | null = null;
  /** What the events so far say exists, to tell after a relist what vanished meanwhile. */
  let known: Map<string, T> | null = null;
  let failures = 0;
  let current: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;

  async function relist(): Promise<void> {
    const list = await deps.list();
    const listed = new Map(list.items.map((b) => [keyOf(b), b]));
    if (known) {
      for (const [key, old] of known) if (!listed.has(key)) deps.onEvent('DELETED', old);
      for (const [key, b] of listed) {
        const old = known.get(key);
        if (old?.metadata?.resourceVersion !== b.metadata?.resourceVersion)
          deps.onEvent(old ? 'MODIFIED' : 'ADDED', b);
      }
    }
    known = listed;
    resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  function schedule(delayMs: number): void {
    if (!stopped) retry = setTimeout(() => void attempt(), delayMs);
  }

  async function attempt(): Promise<void> {
    const startedAt = Date.now();
    let heard = false;
    let streamError: Error | null = null;
    let over = false;
    const finish = (err: unknown) => {
      if (over) return;
      over = true;
      current = undefined;
      if (stopped) return;
      // 410, on connecting or as the stream's last word (resourceVersion cleared): list again, at once.
      if (isGone(err) || (!err && resourceVersion === null)) {
        resourceVersion = null;
        schedule(0);
        return;
      }
      const failure = err ? asError(err) : streamError;
      if (!failure && (heard || Date.now() - startedAt >= shortestNormalWatchMs)) {
        failures = 0;
        schedule(0);
        return;
      }
      failures++;
      deps.onError(failure ?? new Error('the watch ended at once'));
      schedule(backoffMs(failures));
    };
    try {
      if (resourceVersion === null) await relist();
      const controller = await deps.watch.watch(
        deps.path,
        {
          ...(deps.labelSelector ? { labelSelector: deps.labelSelector } : {}),
          resourceVersion: resourceVersion ?? undefined,
          allowWatchBookmarks: true,
          timeoutSeconds: serverTimeoutSeconds,
        },
        (type: string, object: T & k8s.V1Status) => {
          if (type === 'ERROR') {
            // The server says why it ends the watch; 410: that resourceVersion is gone, list again.
            if (object.code === 410) resourceVersion = null;
            else streamError = new Error(`watch error ${object.code}: ${object.message ?? object.reason}`);
            return;
          }
          heard = true;
          failures = 0;
          if (resourceVersion !== null) resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
          if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
          if (type === 'DELETED') known?.delete(keyOf(object));
          else known?.set(keyOf(object), object);
          deps.onEvent(type, object);
        },
        finish,
      );
      if (over || stopped) controller.abort();
      else current = controller;
    } catch (e) {
      finish(e);
    }
  }

  void attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      current?.abort();
    },
  };
}

/** The RoleBindings or ClusterRoleBindings Elevate wrote, as the drift reconciler watches them. */
export const watchBindings = (deps: ObjectWatchDeps<k8s.V1RoleBinding>) => watchObjects(deps);

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number } | null;
  return e?.statusCode === 410 || e?.code === 410;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
