import { isDeepStrictEqual } from 'node:util';
import type { AccessRequest, Phase, Target } from '../domain/access-request.js';
import type { Clock } from '../domain/clock.js';
import { parsePositiveDuration } from '../domain/duration.js';
import { DomainError, RequestRefused } from '../domain/errors.js';
import type { Identity } from '../domain/identity.js';
import type { PeopleDirectory } from './people-directory.js';
import type { Store } from './ports.js';
import type { RequestService } from './request-service.js';
import { approvalConditions, requestConditions, settleConditions } from './status-conditions.js';

/** One of Elevate's custom resources as the home cluster holds it (what the controller reads). */
export interface HomeObject {
  kind: string;
  name: string;
  uid: string;
  generation: number;
  spec: unknown;
  status: Record<string, unknown> | undefined;
}

interface RequestSpec {
  requester: string;
  cluster?: string;
  role?: string;
  roleKind?: 'ClusterRole' | 'Role';
  namespace?: string;
  clusterWide?: boolean;
  profile?: string;
  duration?: string;
  reason: string;
  ticket?: string;
  startTime?: string;
}

interface ApprovalSpec {
  request: string;
  approver: string;
  decision: 'Approve' | 'Deny';
  comment?: string;
}

/** What makes Elevate's request for an object unique: the object's uid, so a re-created name is a new ask. */
export const externalKeyOf = (uid: string) => `kube:${uid}`;

export interface KubeRequestDeps {
  requests: Pick<RequestService, 'create' | 'approve' | 'deny' | 'cancel' | 'revoke'>;
  store: Pick<Store, 'findRequestByExternalKey'>;
  people: Pick<PeopleDirectory, 'lookup'>;
  /** The Elevate user a Kubernetes user of the home cluster is (its OIDC user prefix taken off). */
  userOf: (kubeUser: string) => string;
  /** The object as last seen, by kind and name. */
  get: (kind: string, name: string) => HomeObject | undefined;
  applyStatus: (kind: string, name: string, status: Record<string, unknown>) => Promise<void>;
  onError: (object: string, error: Error) => void;
  clock: Clock;
}

/** What an object's status says besides its conditions (which follow from phase and message). */
type ShownStatus = { observedGeneration: number; phase: string; message: string } & Record<string, unknown>;

/** The status of an AccessRequest object: Elevate's request as the object's owner reads it. */
export function requestStatus(r: AccessRequest, generation: number): ShownStatus {
  return {
    observedGeneration: generation,
    request: r.id,
    phase: r.phase,
    message: r.message,
    ...(r.policy.name ? { policy: r.policy.name } : {}),
    approvals: r.approvals.map((a) => ({
      user: a.user,
      decision: a.decision,
      ...(a.comment ? { comment: a.comment } : {}),
      at: a.at.toISOString(),
    })),
    ...(r.grant
      ? { activatedAt: r.grant.activatedAt.toISOString(), expiresAt: r.grant.expiresAt.toISOString() }
      : {}),
  };
}

/**
 * AccessRequest and AccessApproval objects made with kubectl, handled exactly like the API's requests and
 * approvals: the requester (or approver) is the Kubernetes user who created the object (admission makes
 * sure of it) with their groups as Elevate last saw them sign in. Level-triggered: every pass makes sure
 * each object has its request and shows its state, so a restart or a missed event changes nothing.
 */
export function createKubeRequests(deps: KubeRequestDeps) {
  async function identityOf(kubeUser: string): Promise<Identity> {
    const user = deps.userOf(kubeUser);
    const known = await deps.people.lookup(user);
    return { user, groups: known?.groups ?? [], ...(known ? { source: known.source } : {}) };
  }

  /** Writes the status (with its conditions) unless the object already says exactly that. */
  async function show(object: HomeObject, status: ShownStatus): Promise<void> {
    const wanted =
      object.kind === 'AccessRequest'
        ? requestConditions(status.phase as Phase | 'Invalid', status.message)
        : approvalConditions(status.phase as 'Applied' | 'Refused', status.message);
    const conditions = settleConditions(
      object.status?.conditions,
      wanted,
      object.generation,
      deps.clock.now(),
    );
    const full = { ...status, conditions };
    if (isDeepStrictEqual(object.status ?? {}, full)) return;
    await deps.applyStatus(object.kind, object.name, full);
  }

  async function ensureRequest(object: HomeObject): Promise<AccessRequest | null> {
    const key = externalKeyOf(object.uid);
    const existing = await deps.store.findRequestByExternalKey(key);
    if (existing) return existing;
    const spec = object.spec as RequestSpec;
    const who = await identityOf(spec.requester);
    const durationMs = spec.duration ? parsePositiveDuration(spec.duration) : null;
    if (typeof durationMs === 'string') {
      await show(object, {
        observedGeneration: object.generation,
        phase: 'Invalid',
        message: `spec.duration: ${durationMs}`,
      });
      return null;
    }
    const targets: Target[] =
      spec.cluster && spec.role
        ? [
            {
              cluster: spec.cluster,
              namespace: spec.clusterWide ? null : (spec.namespace ?? null),
              role: spec.role,
              roleKind: spec.roleKind ?? 'ClusterRole',
            },
          ]
        : [];
    try {
      return await deps.requests.create(who, {
        targets,
        profile: spec.profile ?? null,
        durationMs,
        reason: spec.reason,
        ticket: spec.ticket ?? null,
        startTime: spec.startTime ? new Date(spec.startTime) : null,
        externalKey: key,
      });
    } catch (e) {
      // A refusal is stored (Denied, with the reason) and shows as such; other refusals name the field.
      if (e instanceof RequestRefused) return deps.store.findRequestByExternalKey(key);
      if (e instanceof DomainError) {
        await show(object, { observedGeneration: object.generation, phase: 'Invalid', message: e.message });
        return null;
      }
      throw e;
    }
  }

  async function applyApproval(object: HomeObject): Promise<void> {
    if (object.status?.phase === 'Applied' || object.status?.phase === 'Refused') return;
    const spec = object.spec as ApprovalSpec;
    const target = deps.get('AccessRequest', spec.request);
    const request = target ? await deps.store.findRequestByExternalKey(externalKeyOf(target.uid)) : null;
    const done = (phase: 'Applied' | 'Refused', message: string) =>
      show(object, {
        observedGeneration: object.generation,
        phase,
        message,
        ...(request ? { request: request.id } : {}),
      });
    if (!request)
      return done('Refused', `no AccessRequest ${spec.request} with an access request of Elevate's`);
    const who = await identityOf(spec.approver);
    // Applied before, and the status not yet written (a restart): the approval is on record already.
    if (request.approvals.some((a) => a.user === who.user))
      return done('Applied', `${who.user}'s decision is on record`);
    try {
      const saved =
        spec.decision === 'Approve'
          ? await deps.requests.approve(who, request.id, spec.comment ?? null, undefined, 'kubernetes')
          : await deps.requests.deny(who, request.id, spec.comment ?? null, 'kubernetes');
      await done(
        'Applied',
        `${spec.decision === 'Approve' ? 'approved' : 'denied'} by ${who.user}; the request is ${saved.phase}`,
      );
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      // A policy asking for each approver's one-time code cannot be served by an object: say what to do.
      const message = /one-time code/i.test(e.message)
        ? `${e.message}: approve with elevate approve ${request.id} --otp CODE`
        : e.message;
      await done('Refused', message);
    }
  }

  return {
    /** One pass over every object: requests made and shown, approvals applied. */
    async reconcile(objects: HomeObject[]): Promise<void> {
      for (const object of objects.filter((o) => o.kind === 'AccessRequest')) {
        try {
          const request = await ensureRequest(object);
          if (request) await show(object, requestStatus(request, object.generation));
        } catch (e) {
          deps.onError(`AccessRequest/${object.name}`, e as Error);
        }
      }
      for (const object of objects.filter((o) => o.kind === 'AccessApproval')) {
        try {
          await applyApproval(object);
        } catch (e) {
          deps.onError(`AccessApproval/${object.name}`, e as Error);
        }
      }
    },

    /** A request changed (approved, active, ended): its object shows it. */
    async requestChanged(request: AccessRequest, objectOfKey: (key: string) => HomeObject | undefined) {
      const key = request.spec.externalKey;
      if (!key?.startsWith('kube:')) return;
      const object = objectOfKey(key.slice('kube:'.length));
      if (object) await show(object, requestStatus(request, object.generation));
    },

    /** An AccessRequest object was deleted: a pending ask is withdrawn, granted access ends. */
    async deleted(object: HomeObject): Promise<void> {
      if (object.kind !== 'AccessRequest') return;
      const request = await deps.store.findRequestByExternalKey(externalKeyOf(object.uid));
      if (!request) return;
      const who = await identityOf((object.spec as RequestSpec).requester);
      if (request.phase === 'Pending' || request.phase === 'Scheduled')
        await deps.requests.cancel(who, request.id);
      else if (request.phase === 'Approved' || request.phase === 'Active')
        await deps.requests.revoke(who, request.id, 'the AccessRequest object was deleted');
    },
  };
}
export type KubeRequests = ReturnType<typeof createKubeRequests>;
