import { describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { type DesiredBinding, desiredBindings } from '../../src/domain/binding.js';
import { createDriftPass } from '../../src/jobs/drift-pass.js';
import type { BindingEventType, ManagedBinding } from '../../src/services/ports.js';
import { accessRequest } from '../support/fixtures.js';

const now = new Date('2026-01-01T00:10:00Z');
const active = accessRequest({
  id: 'ar-active',
  phase: 'Active',
  target: { role: 'view', namespace: 'team' },
  grant: {
    bindings: [{ cluster: 'dev', kind: 'RoleBinding', name: 'elevate-ar-active', namespace: 'team' }],
    activatedAt: new Date('2026-01-01T00:00:00Z'),
    expiresAt: new Date('2026-01-01T01:00:00Z'),
  },
});
const approved = accessRequest({
  id: 'ar-approved',
  phase: 'Approved',
  target: { role: 'view', namespace: 'team' },
});

/** What the watch would report for the request's own binding, granting `role`. */
function own(request: AccessRequest, role = request.spec.targets[0]?.role ?? ''): ManagedBinding {
  const d = desiredBindings(request, null)[0] as DesiredBinding;
  return { ref: d.ref, requestId: request.id, roleRef: { ...d.roleRef, name: role }, subjects: d.subjects };
}

/** A binding labelled with the request's id that the request never asked for. */
const forged = (request: AccessRequest): ManagedBinding => ({
  ref: { cluster: 'dev', kind: 'ClusterRoleBinding', name: 'forged', namespace: null },
  requestId: request.id,
  roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
  subjects: [{ kind: 'User', name: 'mallory' }],
});

function isExpected(
  type: BindingEventType,
  binding: ManagedBinding,
  removing: readonly string[] = [],
  reads: string[] = [],
): Promise<boolean> {
  const requests = new Map([active, approved].map((r) => [r.id, r]));
  const { isExpected } = createDriftPass({
    store: {
      getRequest: async (id) => {
        reads.push(id);
        return requests.get(id) ?? null;
      },
      listRequests: async () => [...requests.values()],
      appendAudit: async () => {},
    },
    clusters: { listManagedBindings: async () => [], listManagedServiceAccounts: async () => [] },
    grants: {
      restoreBinding: async () => 'unchanged',
      removeOrphan: async () => 'kept',
      isRemoving: (id) => removing.includes(id),
      restoreAccount: async () => 'unchanged',
      removeOrphanAccount: async () => 'kept',
    },
    credentialNamespaces: () => [],
    clock: { now: () => now },
    onError: () => {},
    onRepair: () => {},
  });
  return isExpected(type, binding);
}

describe('which watched changes need a drift pass', () => {
  it.each([
    ['an active grant’s own binding written as wanted needs no pass', 'ADDED', own(active), true],
    ['an active grant’s own binding deleted needs a pass', 'DELETED', own(active), false],
    [
      'an active grant’s own binding pointed at another role needs a pass',
      'MODIFIED',
      own(active, 'admin'),
      false,
    ],
    ['an approved grant’s own binding being written needs no pass', 'ADDED', own(approved), true],
    ['a binding forged with an active grant’s label needs a pass', 'ADDED', forged(active), false],
    ['a binding forged with an approved grant’s label needs a pass', 'ADDED', forged(approved), false],
    ['a forged binding deleted needs no pass', 'DELETED', forged(active), true],
  ] as const)('%s', async (_, type, binding, expected) => {
    expect(await isExpected(type, binding)).toBe(expected);
  });
});

describe('deletions Elevate makes itself', () => {
  it('a binding deleted while the grant service removes its request needs no pass and no store read', async () => {
    const reads: string[] = [];
    expect(await isExpected('DELETED', own(active), [active.id], reads)).toBe(true);
    expect(reads).toEqual([]);
  });

  it('any other change to such a binding is still judged from the stored request', async () => {
    const reads: string[] = [];
    // Deleted by someone else while the grant service was not removing it: the pass puts it back.
    expect(await isExpected('DELETED', own(active), [], reads)).toBe(false);
    // A binding of a request being removed changed rather than deleted: read and judged as before.
    expect(await isExpected('MODIFIED', own(active, 'admin'), [active.id], reads)).toBe(false);
    expect(reads).toEqual([active.id, active.id]);
  });
});
