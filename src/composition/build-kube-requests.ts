import type { Logger } from 'pino';
import { type HomeObjects, watchHomeObjects } from '../adapters/kube/home-objects.js';
import type { Config } from '../config/load-config.js';
import type { AccessRequest } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { createKubeRequests } from '../services/kube-requests.js';
import type { PeopleDirectory } from '../services/people-directory.js';
import type { Store } from '../services/ports.js';
import type { RequestService } from '../services/request-service.js';

const kinds = [
  { kind: 'AccessRequest', plural: 'accessrequests' },
  { kind: 'AccessApproval', plural: 'accessapprovals' },
] as const;

/** How often every object is checked again, for changes made on another server. */
const resyncEveryMs = 15_000;

/**
 * AccessRequest and AccessApproval objects in the home namespace, made with kubectl or by GitOps; null
 * without a home cluster. Work is done one pass at a time, in the order it comes.
 */
export function buildKubeRequests(
  config: Config,
  deps: { requests: RequestService; store: Store; people: PeopleDirectory; clock: Clock; logger: Logger },
) {
  const home = config.home;
  const cluster = home ? config.clusters.find((c) => c.name === home.cluster) : undefined;
  if (!home || !cluster) return null;
  const { logger } = deps;
  const prefix = cluster.subjects.userPrefix;
  let objects: HomeObjects | undefined;
  let resync: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const serial = (what: string, work: () => Promise<void>) => {
    chain = chain
      .then(work)
      .catch((err: Error) => logger.warn({ err: err.message }, `${what} failed; will retry`));
  };
  const controller = createKubeRequests({
    requests: deps.requests,
    store: deps.store,
    people: deps.people,
    userOf: (u) => (prefix && u.startsWith(prefix) ? u.slice(prefix.length) : u),
    get: (kind, name) => objects?.get(kind, name),
    applyStatus: (kind, name, status) => (objects as HomeObjects).applyStatus(kind, name, status),
    onError: (object, err) =>
      logger.warn({ object, err: err.message }, 'could not handle the object; will retry'),
    clock: deps.clock,
  });
  return {
    start(): void {
      objects = watchHomeObjects(cluster, kinds, home.namespace, {
        onChange: (all) => serial('AccessRequest sync', () => controller.reconcile(all)),
        onDeleted: (o) => serial('AccessRequest deletion', () => controller.deleted(o)),
        onError: (err) =>
          logger.warn(
            { cluster: home.cluster, err: err.message },
            'watching AccessRequest/AccessApproval failed; retrying',
          ),
      });
      resync = setInterval(
        () => serial('AccessRequest sync', () => controller.reconcile(objects?.all() ?? [])),
        resyncEveryMs,
      );
    },
    /** A request changed here: the object it was made for shows it at once. */
    changed(request: AccessRequest): void {
      if (!objects || !request.spec.externalKey?.startsWith('kube:')) return;
      const all = objects.all();
      serial('AccessRequest status', () =>
        controller.requestChanged(request, (uid) => all.find((o) => o.uid === uid)),
      );
    },
    async stop(): Promise<void> {
      clearInterval(resync);
      objects?.stop();
      await chain;
    },
  };
}
