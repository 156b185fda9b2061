import { describe, expect, it } from 'vitest';
import { createBindingDeleter } from '../../src/adapters/kube/binding-deleter.js';
import type { BindingRef } from '../../src/domain/access-request.js';
import { Unavailable } from '../../src/domain/errors.js';

const ref = (id: string, namespace: string | null = 'team'): BindingRef => ({
  cluster: 'dev',
  kind: namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
  name: `elevate-${id}`,
  namespace,
});

/**
 * A cluster holding bindings by name, recording each call. deletecollection answers with the names it
 * deleted, as the API server's list answer does; `gate` holds a call until the test releases it.
 */
function cluster(names: string[]) {
  const bindings = new Set(names);
  const calls: string[] = [];
  let gate: Promise<void> | null = null;
  let unsupported = false;
  let failing = false;
  const deleteOne = async (r: BindingRef) => {
    calls.push(`one ${r.name}`);
    await gate;
    return bindings.delete(r.name) ? ('deleted' as const) : ('absent' as const);
  };
  const deleteMany = async (namespace: string | null, requestIds: string[]) => {
    calls.push(`many ${namespace ?? '-'} ${requestIds.join(',')}`);
    await gate;
    if (unsupported) return 'unsupported' as const;
    if (failing) throw new Unavailable('cluster dev: deletecollection timed out');
    const gone = new Set(requestIds.map((id) => `elevate-${id}`).filter((n) => bindings.delete(n)));
    return gone;
  };
  return {
    bindings,
    calls,
    deleteOne,
    deleteMany,
    hold() {
      let release = () => {};
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    refuseCollections: () => (unsupported = true),
    failCollections: () => (failing = true),
  };
}

describe('the binding deleter', () => {
  it('deletes a binding asked for alone with one plain DELETE', async () => {
    const c = cluster(['elevate-a']);
    const deleter = createBindingDeleter(c);
    expect(await deleter.delete(ref('a'), 'a')).toBe('deleted');
    expect(c.calls).toEqual(['one elevate-a']);
  });

  it('gathers deletions asked for in the same turn into one deletecollection per namespace', async () => {
    const c = cluster(['elevate-a', 'elevate-b', 'elevate-c', 'elevate-x']);
    const deleter = createBindingDeleter(c);
    const outcomes = await Promise.all([
      deleter.delete(ref('a'), 'a'),
      deleter.delete(ref('b'), 'b'),
      deleter.delete(ref('c'), 'c'),
      deleter.delete(ref('x', null), 'x'),
    ]);
    expect(outcomes).toEqual(['deleted', 'deleted', 'deleted', 'deleted']);
    expect(c.calls.sort()).toEqual(['many team a,b,c', 'one elevate-x']);
    expect(c.bindings.size).toBe(0);
  });

  it('names each request once, and deletes by name what the answer does not list', async () => {
    // elevate-b is not there to be deleted by label (gone already, or its label edited away).
    const c = cluster(['elevate-a']);
    const deleter = createBindingDeleter(c);
    const outcomes = await Promise.all([
      deleter.delete(ref('a'), 'a'),
      deleter.delete({ ...ref('a'), name: 'elevate-a-1' }, 'a'),
      deleter.delete(ref('b'), 'b'),
    ]);
    expect(outcomes).toEqual(['deleted', 'absent', 'absent']);
    expect(c.calls).toEqual(['many team a,b', 'one elevate-a-1', 'one elevate-b']);
  });

  it('while calls are in flight, the next deletions wait and go together', async () => {
    const c = cluster(['elevate-a', 'elevate-b', 'elevate-c', 'elevate-d']);
    const deleter = createBindingDeleter({ ...c, maxInFlight: 1 });
    const release = c.hold();
    const first = deleter.delete(ref('a'), 'a');
    await new Promise((r) => setImmediate(r));
    const rest = ['b', 'c', 'd'].map((id) => deleter.delete(ref(id), id));
    await new Promise((r) => setImmediate(r));
    expect(c.calls).toEqual(['one elevate-a']);
    release();
    expect(await Promise.all([first, ...rest])).toEqual(['deleted', 'deleted', 'deleted', 'deleted']);
    expect(c.calls).toEqual(['one elevate-a', 'many team b,c,d']);
  });

  it('splits a large burst into calls of at most maxBatch', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `g${i}`);
    const c = cluster(ids.map((id) => `elevate-${id}`));
    const deleter = createBindingDeleter({ ...c, maxBatch: 3 });
    await Promise.all(ids.map((id) => deleter.delete(ref(id), id)));
    expect(c.calls).toEqual(['many team g0,g1,g2', 'many team g3,g4,g5', 'one elevate-g6']);
  });

  it('deletes one by one from then on where the cluster refuses deletecollection', async () => {
    const c = cluster(['elevate-a', 'elevate-b', 'elevate-c', 'elevate-d']);
    c.refuseCollections();
    const deleter = createBindingDeleter(c);
    expect(await Promise.all([deleter.delete(ref('a'), 'a'), deleter.delete(ref('b'), 'b')])).toEqual([
      'deleted',
      'deleted',
    ]);
    expect(await Promise.all([deleter.delete(ref('c'), 'c'), deleter.delete(ref('d'), 'd')])).toEqual([
      'deleted',
      'deleted',
    ]);
    expect(c.calls).toEqual([
      'many team a,b',
      'one elevate-a',
      'one elevate-b',
      'one elevate-c',
      'one elevate-d',
    ]);
  });

  it('fails every deletion of a call the cluster did not answer, and the next ones are tried afresh', async () => {
    const c = cluster(['elevate-a', 'elevate-b']);
    c.failCollections();
    const deleter = createBindingDeleter(c);
    const outcomes = await Promise.allSettled([deleter.delete(ref('a'), 'a'), deleter.delete(ref('b'), 'b')]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(c.bindings.size).toBe(2);
    expect(await deleter.delete(ref('a'), 'a')).toBe('deleted');
  });
});
