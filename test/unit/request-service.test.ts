import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/adapters/store/sqlite-store.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { systemClock } from '../../src/domain/clock.js';
import { fixedClusters } from '../../src/services/cluster-directory.js';
import { createKeyedLock } from '../../src/services/keyed-lock.js';
import type { ClusterGateway } from '../../src/services/ports.js';
import { createRequestService } from '../../src/services/request-service.js';
import { accessRequest } from '../support/fixtures.js';

const minimalConfig = `
storage: sqlite:./e.db
auth: { tokenFile: ./tokens.csv }
clusters: [{ name: dev, kubeconfig: ./dev.kubeconfig }]
`;

// Approvals below stay short of the quorum, so no cluster is ever needed: any call to one is a bug.
const noCluster = new Proxy({} as ClusterGateway, {
  get: (_t, name) => () => {
    throw new Error(`unexpected cluster call ${String(name)}`);
  },
});

function pendingRequest(): AccessRequest {
  return accessRequest({ id: 'ar-race', policy: { name: 'three-eyes', required: 3 } });
}

describe('request service', () => {
  it('takes approvals that arrive at the same moment one after the other, losing none', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'elevate-race-')), 'e.db'));
    await store.createRequest(pendingRequest(), []);
    const requests = createRequestService({
      store,
      clusters: noCluster,
      grants: {
        settle: () => Promise.reject(new Error('unexpected settle')),
        cancelScheduled: () => Promise.reject(new Error('unexpected cancel')),
      },
      directory: fixedClusters('dev'),
      policySource: { current: () => parseConfig(minimalConfig, '/elevate.yaml').policySet },
      admins: { users: [], groups: [] },
      clock: systemClock,
      withLock: createKeyedLock(),
      onChange: () => {},
      onSettleError: () => {},
    });
    const approvers = ['bob', 'carol'].map((user) => ({ user, groups: ['sre-leads'] }));
    // Both start in the same tick, so without the lock both would read version 1 and one save would fail.
    const results = await Promise.all(approvers.map((who) => requests.approve(who, 'ar-race', null)));
    expect(results.map((r) => r.approvals.length).sort()).toEqual([1, 2]);
    const stored = await store.getRequest('ar-race');
    expect(stored?.approvals.map((a) => a.user).sort()).toEqual(['bob', 'carol']);
    expect(stored?.version).toBe(3);
    expect((await store.listAudit()).map((e) => e.action)).toEqual(['ApprovalRecorded', 'ApprovalRecorded']);
    await store.close();
  });
});
