import type { AccessRequest } from '../../src/domain/access-request.js';
import type { Target } from '../../src/domain/target.js';

export interface RequestFixture {
  id?: string;
  at?: Date;
  phase?: AccessRequest['phase'];
  spec?: Partial<AccessRequest['spec']>;
  /** Overrides of the one target (edit in payments on dev); spec.targets replaces it whole. */
  target?: Partial<Target>;
  policy?: Partial<AccessRequest['policy']>;
  grant?: AccessRequest['grant'];
}

/** alice's pending request for `edit` in payments on dev, needing approval; override what a test is about. */
export function accessRequest(f: RequestFixture = {}): AccessRequest {
  const at = f.at ?? new Date('2026-01-01T00:00:00Z');
  return {
    id: f.id ?? 'ar-test',
    createdAt: at,
    updatedAt: at,
    version: 1,
    spec: {
      requester: 'alice',
      requesterGroups: ['devs'],
      targets: [
        { cluster: 'dev', role: 'edit', roleKind: 'ClusterRole', namespace: 'payments', ...f.target },
      ],
      profile: null,
      durationMs: 60_000,
      reason: 'incident',
      ticket: null,
      startTime: null,
      ...f.spec,
    },
    policy: {
      name: 'p',
      decision: 'approval',
      approvers: { users: [], groups: ['sre-leads'] },
      required: 1,
      approvalDeadline: null,
      denyEnds: true,
      requireComment: false,
      ...f.policy,
    },
    phase: f.phase ?? 'Pending',
    approvals: [],
    grant: f.grant ?? null,
    revocation: null,
    extensions: [],
    message: '',
  };
}
