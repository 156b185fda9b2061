import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTicketProviders } from '../../src/composition/open-ticket-providers.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { TicketProvider } from '../../src/services/ports.js';
import { TicketProviderError } from '../../src/services/ports.js';
import { type JiraStandIn, startJira } from '../support/jira-server.js';
import { type ServiceNowStandIn, startServiceNow } from '../support/servicenow-server.js';
import { startTicketLookup } from '../support/ticket-lookup-server.js';

const context = { user: 'alice@example.com', clusters: ['dev'] };
const dir = mkdtempSync(join(tmpdir(), 'elevate-tickets-'));
const secret = (name: string, value: string) => {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`);
  return path;
};

async function providersFor(yaml: string): Promise<Map<string, TicketProvider>> {
  const config = parseConfig(
    `storage: sqlite:${dir}/db\nauth: { tokenFile: ${dir}/tokens }\nclusters: [{ name: dev, kubeconfig: ${dir}/kc }]\n${yaml}`,
    join(dir, 'elevate.yaml'),
  );
  return openTicketProviders(config);
}

describe('ServiceNow over the Table API', () => {
  let snow: ServiceNowStandIn;
  let basic: TicketProvider;
  let oauth: TicketProvider;
  beforeAll(async () => {
    snow = await startServiceNow({
      username: 'elevate',
      password: 'pw',
      clientId: 'cid',
      clientSecret: 'cs',
    });
    const providers = await providersFor(`
tickets:
  timeout: 1s
  providers:
    - { name: snow, type: servicenow, url: ${snow.url}, auth: { type: basic, username: elevate, passwordFile: ${secret('snow-pw', 'pw')} } }
    - name: snow-oauth
      type: servicenow
      url: ${snow.url}
      auth: { type: oauth2, tokenUrl: ${snow.url}/oauth_token.do, clientId: cid, clientSecretFile: ${secret('snow-cs', 'cs')} }
    - { name: snow-wrong, type: servicenow, url: ${snow.url}, auth: { type: basic, username: elevate, passwordFile: ${secret('bad', 'nope')} } }
`);
    basic = providers.get('snow') as TicketProvider;
    oauth = providers.get('snow-oauth') as TicketProvider;
    snowWrong = providers.get('snow-wrong') as TicketProvider;
  });
  let snowWrong: TicketProvider;
  afterAll(() => snow.close());

  it('reads an open incident with its assignee and a link', async () => {
    snow.set({ number: 'INC0010001', state: '2', assignedToEmail: 'Alice@Example.com' });
    const t = await basic.lookup('INC0010001', context);
    expect(t).toMatchObject({ id: 'INC0010001', found: true, open: true, assignees: ['alice@example.com'] });
    expect(t.status).toBe('Open (state 2)');
    expect(t.url).toMatch(/nav_to\.do\?uri=incident\.do\?sys_id=/);
  });

  it.each([
    ['6', true, 'Resolved (state 6)'],
    ['7', false, 'Closed (state 7)'],
    ['8', false, 'Canceled (state 8)'],
  ])('an incident in state %s is not open', async (state, active, status) => {
    snow.set({ number: 'INC0010002', state, active });
    const t = await basic.lookup('INC0010002', context);
    expect(t).toMatchObject({ found: true, open: false, status });
  });

  it('an inactive record is not open whatever its state', async () => {
    snow.set({ number: 'INC0010003', state: '2', active: false });
    expect((await basic.lookup('INC0010003', context)).open).toBe(false);
  });

  it('a missing incident, or a number of no table, is not found', async () => {
    expect((await basic.lookup('INC9999999', context)).found).toBe(false);
    expect((await basic.lookup('RITM0001', context)).found).toBe(false);
  });

  it('a change request carries its planned window', async () => {
    const startDate = new Date('2026-05-06T10:00:00Z');
    const endDate = new Date('2026-05-06T12:30:00Z');
    snow.set({ number: 'CHG0030001', state: '-1', startDate, endDate, assignedToEmail: null });
    const t = await basic.lookup('CHG0030001', context);
    expect(t).toMatchObject({
      found: true,
      open: true,
      notBefore: startDate,
      notAfter: endDate,
      assignees: [],
    });
    snow.set({ number: 'CHG0030001', state: '3', startDate, endDate });
    expect((await basic.lookup('CHG0030001', context)).open).toBe(false);
  });

  it('OAuth2 client credentials: one token reused, fetched again once revoked', async () => {
    snow.set({ number: 'INC0010004', state: '1' });
    const before = snow.tokenRequests();
    await oauth.lookup('INC0010004', context);
    await oauth.lookup('INC0010004', context);
    expect(snow.tokenRequests() - before).toBe(1);
    snow.revokeTokens();
    expect((await oauth.lookup('INC0010004', context)).found).toBe(true);
    expect(snow.tokenRequests() - before).toBe(2);
  });

  it('refused credentials are an outage of the provider, not a missing ticket', async () => {
    await expect(snowWrong.lookup('INC0010001', context)).rejects.toThrow(
      new TicketProviderError('snow-wrong', "snow-wrong refused Elevate's credentials (HTTP 401)"),
    );
  });

  it('down, slow and garbage answers throw TicketProviderError naming the provider', async () => {
    snow.garbage(true);
    await expect(basic.lookup('INC0010001', context)).rejects.toThrow(
      'snow answered something that is not a Table API result',
    );
    snow.garbage(false);
    snow.slow(1500);
    await expect(basic.lookup('INC0010001', context)).rejects.toThrow(
      /snow did not answer: no answer within 1s/,
    );
    snow.slow(0);
    await snow.down();
    await expect(basic.lookup('INC0010001', context)).rejects.toBeInstanceOf(TicketProviderError);
    await snow.up();
    expect((await basic.lookup('INC0010001', context)).found).toBe(true);
  });
});

describe('Jira over REST v3', () => {
  let jira: JiraStandIn;
  let provider: TicketProvider;
  beforeAll(async () => {
    jira = await startJira({ email: 'bot@example.com', apiToken: 'tok' });
    const providers = await providersFor(`
tickets:
  providers:
    - { name: jira, type: jira, url: ${jira.url}, auth: { type: basic, username: bot@example.com, passwordFile: ${secret('jira', 'tok')} } }
`);
    provider = providers.get('jira') as TicketProvider;
  });
  afterAll(() => jira.close());

  it('an issue is open until its status category is done', async () => {
    jira.set({
      key: 'OPS-42',
      status: 'In Progress',
      category: 'indeterminate',
      assigneeEmail: 'alice@example.com',
    });
    expect(await provider.lookup('OPS-42', context)).toMatchObject({
      id: 'OPS-42',
      found: true,
      open: true,
      status: 'In Progress',
      assignees: ['alice@example.com'],
      url: `${jira.url}/browse/OPS-42`,
    });
    jira.set({ key: 'OPS-42', status: 'Closed', category: 'done', assigneeEmail: null });
    expect(await provider.lookup('OPS-42', context)).toMatchObject({ open: false, assignees: [] });
  });

  it('a missing issue (404 errorMessages) or a text that is no key is not found', async () => {
    expect((await provider.lookup('OPS-999', context)).found).toBe(false);
    expect((await provider.lookup('../../myself', context)).found).toBe(false);
  });
});

describe('the generic http lookup', () => {
  it('passes who and where, and reads the verdict with its window', async () => {
    const lookup = await startTicketLookup('secret-token');
    try {
      const providers = await providersFor(`
tickets:
  providers:
    - { name: itsm, type: http, url: ${lookup.url}/check, auth: { type: bearer, tokenFile: ${secret('itsm', 'secret-token')} } }
`);
      const p = providers.get('itsm') as TicketProvider;
      lookup.set('PRJ-1', { valid: true, notAfter: '2026-05-06T12:00:00Z' });
      expect(await p.lookup('PRJ-1', context)).toMatchObject({
        found: true,
        open: true,
        assignees: null,
        notAfter: new Date('2026-05-06T12:00:00Z'),
      });
      expect(lookup.asked.at(-1)).toEqual({ user: 'alice@example.com', cluster: 'dev', ticket: 'PRJ-1' });
      expect(await p.lookup('PRJ-2', context)).toMatchObject({ open: false, status: 'no ticket PRJ-2' });
    } finally {
      await lookup.close();
    }
  });
});

describe('opening providers', () => {
  it('a missing secret file fails the start naming the field', async () => {
    await expect(
      providersFor(`
tickets:
  providers:
    - { name: jira, type: jira, url: https://x.example, auth: { type: bearer, tokenFile: ${dir}/missing } }
`),
    ).rejects.toThrow(/tickets\.providers\[0\]: tickets\.providers\[0\]\.auth\.tokenFile: cannot read/);
  });

  it('credentials in the URL are refused by the config', async () => {
    await expect(
      providersFor(`
tickets:
  providers:
    - { name: jira, type: jira, url: "https://bot:tok@x.example" }
`),
    ).rejects.toThrow(/tickets\.providers\[0\]\.url: put credentials in auth, not in the URL/);
  });
});
