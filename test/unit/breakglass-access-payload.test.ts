import { describe, expect, it } from 'vitest';
import type { AccessRequest } from '../../src/domain/access-request.js';
import { Forbidden, NotFound } from '../../src/domain/errors.js';
import type { Identity } from '../../src/domain/identity.js';
import type { PolicySet } from '../../src/domain/policy/types.js';
import {
  type BreakGlassAccessEntry,
  createBreakGlassAccessService,
  entryKey,
} from '../../src/services/breakglass-access-service.js';
import type { RequestInput } from '../../src/services/request-service.js';

const now = new Date('2026-05-06T10:00:00Z');
const bot: Identity = { user: 'snow-bot', groups: [] };

function harness(opts: { denied?: string; existing?: string[] } = {}) {
  const made: RequestInput[] = [];
  const asked: RequestInput[] = [];
  const existing = new Set(opts.existing ?? []);
  const fake = (input: RequestInput, phase: AccessRequest['phase']) =>
    ({
      id: `ar-${made.length}`,
      phase,
      message: opts.denied ?? 'ok',
      spec: { externalKey: input.externalKey },
    }) as AccessRequest;
  const service = createBreakGlassAccessService({
    clock: { now: () => now },
    policySource: {
      current: () => ({ profiles: [{ name: 'prod-app-namespace', targets: [] }] }) as unknown as PolicySet,
    },
    onBehalf: {
      async actFor(_who, user) {
        if (user === 'stranger')
          throw new Forbidden('integration servicenow may not ask for stranger', 'metadata.name');
        return { person: { user, groups: [] }, integration: 'servicenow', requestedBy: 'snow-bot' };
      },
    },
    store: {
      async findRequestByExternalKey(key) {
        return existing.has(key) ? ({ id: 'ar-old', spec: { externalKey: key } } as AccessRequest) : null;
      },
      async listRequests() {
        return [];
      },
    },
    requests: {
      async dryRun(_who, input) {
        asked.push(input);
        return fake(input, opts.denied ? 'Denied' : 'Approved');
      },
      async create(_who, input) {
        made.push(input);
        return fake(input, 'Active');
      },
      list: async () => [],
      revoke: async () => ({}) as AccessRequest,
      cancel: async () => ({}) as AccessRequest,
    },
  });
  return { service, made, asked };
}

const entry = (over: Partial<BreakGlassAccessEntry> = {}): BreakGlassAccessEntry => ({
  field: 'spec.groups[0].groupExpiry[0]',
  profile: 'prod-app-namespace',
  hours: 1,
  startTime: '2024-10-17T06:30:50.366Z',
  ...over,
});

describe('the BreakGlassAccess payload as requests', () => {
  it('maps an entry to an on-behalf request: profile, hours, a past start meaning now, a key', async () => {
    const h = harness();
    const { created } = await h.service.grant(bot, 'demos@rafay.co', [entry({ hours: 1.5 })]);
    expect(created).toBe(1);
    expect(h.made).toEqual([
      expect.objectContaining({
        onBehalfOf: 'demos@rafay.co',
        profile: 'prod-app-namespace',
        targets: [],
        durationMs: 5_400_000,
        startTime: null,
        reason: 'BreakGlassAccess via snow-bot',
        externalKey: 'breakglassaccess:demos@rafay.co:prod-app-namespace:2024-10-17T06:30:50.366Z',
      }),
    ]);
  });

  it('a start after now is kept: the request is scheduled', async () => {
    const h = harness();
    await h.service.grant(bot, 'u', [entry({ startTime: '2026-05-06T12:00:00Z' })]);
    expect(h.made[0]?.startTime).toEqual(new Date('2026-05-06T12:00:00Z'));
  });

  it('an entry made before is returned, not made again', async () => {
    const h = harness({ existing: [entryKey('u', entry())] });
    const { requests, created } = await h.service.grant(bot, 'u', [entry()]);
    expect(created).toBe(0);
    expect(requests.map((r) => r.id)).toEqual(['ar-old']);
    expect(h.made).toEqual([]);
  });

  it('an unknown profile is NotFound naming the entry, and nothing is asked or made', async () => {
    const h = harness();
    const err = await h.service
      .grant(bot, 'u', [entry(), entry({ field: 'spec.groups[0].groupExpiry[1]', profile: 'nope' })])
      .catch((e) => e);
    expect(err).toBeInstanceOf(NotFound);
    expect(err.field).toBe('spec.groups[0].groupExpiry[1].name');
    expect(h.asked).toEqual([]);
    expect(h.made).toEqual([]);
  });

  it('a user the integration may not act for is refused before anything else', async () => {
    const h = harness();
    await expect(h.service.grant(bot, 'stranger', [entry()])).rejects.toThrow('may not ask for stranger');
    expect(h.asked).toEqual([]);
  });

  it('an entry policy would refuse refuses the whole payload, naming the entry', async () => {
    const h = harness({ denied: 'edit is not granted through tickets' });
    const err = await h.service.grant(bot, 'u', [entry()]).catch((e) => e);
    expect(err).toBeInstanceOf(Forbidden);
    expect(err.message).toBe('spec.groups[0].groupExpiry[0]: edit is not granted through tickets');
    expect(h.made).toEqual([]);
  });
});
