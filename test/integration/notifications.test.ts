import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type RunningElevate, requestBody, startElevate } from '../support/elevate.js';
import { freePort } from '../support/free-port.js';
import { createNamespace, elevateKubeconfig, testKubeconfig, uniqueName, waitFor } from '../support/kube.js';
import { type SlackStandIn, slackInteraction, startSlack } from '../support/slack-server.js';
import { type SmtpReceiver, startSmtpReceiver } from '../support/smtp-receiver.js';
import { writeTestPki } from '../support/test-pki.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'elevate-notify-'));
const slackToken = 'xoxb-test-bot-token';
const signingSecret = 'slack-signing-secret-0123456789';
const hookSecret = 'notify-webhook-secret';
const smtpPassword = 'smtp-password-from-a-file';
for (const [file, text] of [
  ['slack-token', slackToken],
  ['slack-signing', signingSecret],
  ['hook-secret', hookSecret],
  ['smtp-password', `${smtpPassword}\n`],
]) {
  writeFileSync(join(dir, file as string), text as string);
}

/** Slack workspace members; eve's e-mail is known to Slack but she never signed in to Elevate. */
const slackUsers = [
  { id: 'UALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'UBOB', name: 'bob', email: 'bob@example.com' },
  { id: 'UCAROL', name: 'carol', email: 'carol@example.com' },
  { id: 'UMALLORY', name: 'mallory', email: 'mallory@example.com' },
  { id: 'UEVE', name: 'eve', email: 'eve@example.com' },
];

const notificationsConfig = (slack: SlackStandIn, smtp: SmtpReceiver, hookUrl: string, ca: string) => `
notifications:
  expiryWarning: 6s
  addresses:
    alice: alice@example.com
    bob: bob@example.com
    carol: carol@example.com
    mallory: mallory@example.com
  channels:
    - name: slack
      type: slack
      tokenFile: ${join(dir, 'slack-token')}
      signingSecretFile: ${join(dir, 'slack-signing')}
      conversation: '#security'
      apiUrl: ${slack.apiUrl}
    - name: mail
      type: email
      host: ${smtp.host}
      port: ${smtp.port}
      tls: starttls
      caFile: ${ca}
      username: elevate
      passwordFile: ${join(dir, 'smtp-password')}
      from: elevate@example.com
      timeout: 3s
    - name: hook
      type: webhook
      url: ${hookUrl}/notices
      secretFile: ${join(dir, 'hook-secret')}
  rules:
    - { events: [request.pending], channel: slack }
    - { events: [request.pending], channel: mail }
    - events: [request.decided, grant.activated, grant.expiring, grant.ended]
      channel: mail
    - { events: [breakglass, escalation.refused], channel: slack }
    - { events: [escalation.refused], channel: mail, to: [security@example.com], minSeverity: high }
    - { events: [grant.activated], channel: hook, clusters: [dev] }
    - { events: [grant.activated], channel: mail, to: [prod-watch@example.com], clusters: ['prod-*'] }
`;

describe('notifications over Slack, e-mail and a webhook', () => {
  let slack: SlackStandIn;
  let smtp: SmtpReceiver;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let server: RunningElevate;
  let metricsUrl: string;
  let pendingId: string;

  const metric = async (name: string, channel: string) => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{channel="${channel}"}`));
    return line ? Number(line.split(' ').at(-1)) : Number.NaN;
  };
  const interact = (body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/api/v1/notifications/slack/interactions`, { method: 'POST', body, headers });
  const postTo = (user: string) => slack.posts.filter((p) => p.channel === user);
  const request = async (id: string) => (await server.as('root').get(`/api/v1/accessrequests/${id}`)).body;

  beforeAll(async () => {
    const pki = await writeTestPki(mkdtempSync(join(dir, 'pki-')));
    slack = await startSlack({
      token: slackToken,
      users: slackUsers,
      channels: [{ id: 'CSECURITY', name: 'security' }],
    });
    smtp = await startSmtpReceiver({ pki, username: 'elevate', password: smtpPassword });
    hook = await startWebhookReceiver();
    metricsUrl = `http://127.0.0.1:${await freePort()}`;
    server = await startElevate({
      clusters: { dev: elevateKubeconfig('dev') },
      extra: `${notificationsConfig(slack, smtp, hook.url, pki.caCert)}\nmetrics:\n  listen: ${metricsUrl.slice(7)}\n`,
    });
    // Approvers sign in once: Elevate learns their groups (sre-leads), which a pending request's notice
    // and a Slack click are judged with.
    for (const p of ['bob', 'carol', 'mallory', 'alice'] as const) {
      expect((await server.as(p).get('/api/v1/whoami')).status).toBe(200);
    }
  });
  afterAll(async () => {
    await server?.stop();
    await Promise.all([slack?.close(), smtp?.close(), hook?.close()]);
  });

  it('a request waiting for approvers reaches each of them in Slack (with buttons) and by e-mail, never the requester', async () => {
    const ns = uniqueName('notify');
    await createNamespace(testKubeconfig('dev'), ns);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'edit', namespace: ns, duration: '30m' }));
    expect(res.body.status.phase).toBe('Pending');
    pendingId = res.body.metadata.name;
    await waitFor(() => postTo('UBOB').length > 0 && postTo('UCAROL').length > 0);
    const dm = postTo('UBOB')[0];
    expect(dm?.text).toContain(pendingId);
    const actions = dm?.blocks.find((b) => b.type === 'actions') as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      ['elevate.approve', pendingId],
      ['elevate.deny', pendingId],
    ]);
    expect(postTo('UALICE')).toHaveLength(0);
    // E-mail: one message to each approver, over STARTTLS, signed in; text and HTML.
    await waitFor(() => smtp.to('bob@example.com').length > 0 && smtp.to('carol@example.com').length > 0);
    const mail = smtp.to('bob@example.com')[0];
    expect(mail?.secure).toBe(true);
    expect(mail?.user).toBe('elevate');
    expect(mail?.to).toEqual(['bob@example.com']);
    expect(mail?.parsed.subject).toContain('Approval needed');
    expect(mail?.parsed.text).toContain(`Request: ${pendingId}`);
    expect(mail?.parsed.text).toContain(`elevate approve ${pendingId}`);
    expect(mail?.parsed.html).toContain('<table>');
    expect(
      smtp.to('alice@example.com').filter((m) => m.parsed.subject?.includes('Approval needed')),
    ).toHaveLength(0);
  });

  it('refuses forged, stale, replayed, unknown-user, self and non-approver clicks, and says why in Slack', async () => {
    const ts = postTo('UBOB')[0]?.ts as string;
    const click = (user: string, at?: number, secret = signingSecret) =>
      slackInteraction(secret, { user, channel: user, ts, action: 'elevate.approve', value: pendingId }, at);
    const forged = click('UBOB', undefined, 'not-the-secret');
    expect((await interact(forged.body, forged.headers)).status).toBe(401);
    const stale = click('UBOB', Math.floor(Date.now() / 1000) - 600);
    expect((await interact(stale.body, stale.headers)).status).toBe(401);
    const unsigned = click('UBOB');
    expect(
      (await interact(unsigned.body, { 'content-type': unsigned.headers['content-type'] as string })).status,
    ).toBe(401);
    // eve is in Slack, not in Elevate; alice asked herself; mallory is no approver.
    for (const who of ['UEVE', 'UALICE', 'UMALLORY']) {
      const c = click(who);
      expect((await interact(c.body, c.headers)).status).toBe(200);
    }
    await waitFor(() => slack.ephemerals.length >= 3);
    const told = (user: string) => slack.ephemerals.find((e) => e.user === user)?.text ?? '';
    expect(told('UEVE')).toMatch(/eve@example.com is not known to Elevate/);
    expect(told('UALICE')).toMatch(/Elevate refused: .*requester/i);
    expect(told('UMALLORY')).toMatch(/Elevate refused: .*(approver|may not)/i);
    expect((await request(pendingId)).status.phase).toBe('Pending');
    expect((await request(pendingId)).status.approvals ?? []).toHaveLength(0);
    const refused = (await auditEvents(server)).filter((e) => e.action === 'ChatActionRefused');
    expect(refused.map((e) => e.details.why)).toEqual(
      expect.arrayContaining(['bad signature', 'stale timestamp', 'unsigned']),
    );
    expect(refused.filter((e) => e.requestId === pendingId)).toHaveLength(3);
  });

  it('a signed click approves: bob, then carol completes the quorum; the message is updated; alice is told by e-mail', async () => {
    const bobTs = postTo('UBOB')[0]?.ts as string;
    const bob = slackInteraction(signingSecret, {
      user: 'UBOB',
      channel: 'UBOB',
      ts: bobTs,
      action: 'elevate.approve',
      value: pendingId,
      blocks: postTo('UBOB')[0]?.blocks,
    });
    expect((await interact(bob.body, bob.headers)).status).toBe(200);
    // The same signed call again is a replay.
    expect((await interact(bob.body, bob.headers)).status).toBe(409);
    await waitFor(() => slack.ephemerals.some((e) => e.user === 'UBOB'));
    expect(slack.ephemerals.find((e) => e.user === 'UBOB')?.text).toMatch(
      /Approved by bob in Slack \(1 of 2/,
    );
    const carolPost = postTo('UCAROL')[0];
    const carol = slackInteraction(signingSecret, {
      user: 'UCAROL',
      channel: 'UCAROL',
      ts: carolPost?.ts as string,
      action: 'elevate.approve',
      value: pendingId,
      blocks: carolPost?.blocks,
    });
    expect((await interact(carol.body, carol.headers)).status).toBe(200);
    await waitFor(async () => (await request(pendingId)).status.phase === 'Active');
    await waitFor(() => slack.updates.some((u) => u.channel === 'UCAROL'));
    const updated = slack.updates.find((u) => u.channel === 'UCAROL');
    expect(updated?.text).toMatch(/Approved by carol in Slack: the request is (Approved|Active)/);
    expect(updated?.blocks.some((b) => b.type === 'actions')).toBe(false);
    const approvals = (await auditEvents(server)).filter(
      (e) => e.action === 'ApprovalRecorded' && e.requestId === pendingId,
    );
    expect(approvals.map((e) => [e.actor, e.details.via])).toEqual([
      ['bob', 'slack'],
      ['carol', 'slack'],
    ]);
    await waitFor(() => smtp.to('alice@example.com').some((m) => m.parsed.subject?.includes('Active')));
    expect(smtp.to('alice@example.com').map((m) => m.parsed.subject)).toEqual(
      expect.arrayContaining([expect.stringContaining('Approved'), expect.stringContaining('Active')]),
    );
  });

  it('tells the requester a grant is active, about to expire and ended; the webhook gets it signed; filters hold', async () => {
    const ns = uniqueName('notify');
    await createNamespace(testKubeconfig('dev'), ns);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '9s' }));
    expect(res.body.status.phase).toBe('Active');
    const id = res.body.metadata.name;
    const about = (m: { parsed: { text?: string } }) => m.parsed.text?.includes(`Request: ${id}`);
    await waitFor(() => smtp.to('alice@example.com').filter(about).length >= 3, { timeoutMs: 20_000 });
    const subjects = smtp
      .to('alice@example.com')
      .filter(about)
      .map((m) => m.parsed.subject);
    expect(subjects).toEqual([
      expect.stringContaining('Active'),
      expect.stringContaining('Expiring in'),
      expect.stringContaining('expired'),
    ]);
    // The warning is one audit event for that expiry, however many passes the loop made.
    const warnings = (await auditEvents(server)).filter(
      (e) => e.action === 'GrantExpiringSoon' && e.requestId === id,
    );
    expect(warnings).toHaveLength(1);
    // The webhook: grant.activated on dev, signed over "t.body".
    const notice = await waitFor(() => hook.received.find((w) => w.body.requestId === id));
    expect(notice.body).toMatchObject({ kind: 'grant.activated', cluster: 'dev', requester: 'alice' });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(notice.headers['x-elevate-signature'])) ?? [];
    expect(v1).toBe(
      createHmac('sha256', hookSecret)
        .update(`${t}.${JSON.stringify(notice.body)}`)
        .digest('hex'),
    );
    // The rule for prod-* clusters never matched a grant on dev.
    expect(smtp.to('prod-watch@example.com')).toHaveLength(0);
  });

  it('a refused escalation reaches security in its Slack conversation and by e-mail', async () => {
    const res = await server
      .as('alice')
      .post(
        '/api/v1/accessrequests',
        requestBody({ role: 'cluster-admin', clusterWide: true, duration: '5m' }),
      );
    expect(res.status).toBe(403);
    await waitFor(() => postTo('CSECURITY').some((p) => p.text.includes('Escalation refused')));
    await waitFor(() => smtp.to('security@example.com').length > 0);
    expect(smtp.to('security@example.com')[0]?.parsed.text).toMatch(/guardrails refused: .*cluster-admin/);
  });

  it('a dead channel shows in /metrics, holds its notices, and delivers every one once it is back', async () => {
    await smtp.down();
    const before = smtp.to('alice@example.com').length;
    const ns = uniqueName('notify');
    await createNamespace(testKubeconfig('dev'), ns);
    const res = await server
      .as('alice')
      .post('/api/v1/accessrequests', requestBody({ role: 'view', namespace: ns, duration: '10m' }));
    const id = res.body.metadata.name;
    await waitFor(async () => (await metric('elevate_notification_channel_failing', 'mail')) === 1, {
      timeoutMs: 20_000,
    });
    expect(await metric('elevate_notification_failures_total', 'mail')).toBeGreaterThan(0);
    expect(await metric('elevate_notification_lag_events', 'mail')).toBeGreaterThan(0);
    // Slack is not held up by the mail server.
    expect(await metric('elevate_notification_channel_failing', 'slack')).not.toBe(1);
    await server.as('alice').post(`/api/v1/accessrequests/${id}/revoke`, { reason: 'done' });
    await smtp.up();
    await waitFor(
      () => smtp.to('alice@example.com').filter((m) => m.parsed.text?.includes(`Request: ${id}`)).length >= 2,
      { timeoutMs: 70_000 },
    );
    const got = smtp
      .to('alice@example.com')
      .slice(before)
      .filter((m) => m.parsed.text?.includes(`Request: ${id}`));
    expect(got.map((m) => m.parsed.subject)).toEqual([
      expect.stringContaining('Active'),
      expect.stringContaining('revoked'),
    ]);
    await waitFor(async () => (await metric('elevate_notification_channel_failing', 'mail')) === 0);
  });
});
