import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailChannel } from '../../src/adapters/notify/email-channel.js';
import { createSlackChannel } from '../../src/adapters/notify/slack-channel.js';
import { createWebhookChannel } from '../../src/adapters/notify/webhook-channel.js';
import type { ChannelConfigOf } from '../../src/config/notification-schema.js';
import type { Notice } from '../../src/domain/notification.js';
import { type SlackStandIn, startSlack } from '../support/slack-server.js';
import { type SmtpReceiver, startSmtpReceiver } from '../support/smtp-receiver.js';
import { type TestPki, writeTestPki } from '../support/test-pki.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'elevate-channels-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

const notice: Notice = {
  kind: 'request.pending',
  severity: 'info',
  event: { seq: 12, hash: 'f'.repeat(64), action: 'RequestCreated', time: new Date(), actor: 'alice' },
  requestId: 'ar-abc123',
  cluster: 'dev',
  policy: 'edit-needs-two',
  requester: 'alice',
  title: 'Approval needed: alice asks for access (ar-abc123)',
  summary: 'alice asks for ClusterRole edit in namespace payments on cluster dev',
  fields: [
    ['Reason', '<script>alert(1)</script> & <@U123> pinged'],
    ['Request', 'ar-abc123'],
  ],
  approvable: true,
};

function recorder() {
  const gaveUp: [string, string][] = [];
  return { gaveUp, undeliverable: (_c: string, who: string, why: string) => gaveUp.push([who, why]) };
}

describe('the Slack channel against the Web API', () => {
  let slack: SlackStandIn;
  const config = (over: Partial<ChannelConfigOf<'slack'>> = {}): ChannelConfigOf<'slack'> => ({
    name: 'slack',
    type: 'slack',
    tokenFile: file('token', 'xoxb-good'),
    apiUrl: slack.apiUrl,
    timeout: 3_000,
    ...over,
  });
  beforeAll(async () => {
    slack = await startSlack({
      token: 'xoxb-good',
      users: [{ id: 'UBOB', name: 'bob', email: 'bob@example.com' }],
      channels: [{ id: 'COPS', name: 'ops' }],
    });
  });
  afterAll(() => slack?.close());

  it('DMs people found by e-mail, posts to conversations, escapes mrkdwn, and gives up only on who cannot be reached', async () => {
    const r = recorder();
    const channel = await createSlackChannel(config(), r.undeliverable);
    await channel.send(notice, {
      people: [
        { user: 'bob', address: 'bob@example.com' },
        { user: 'nobody', address: 'nobody@example.com' },
        { user: 'noaddress', address: null },
      ],
      destinations: ['#ops', '#gone'],
    });
    expect(slack.posts.map((p) => p.channel)).toEqual(['COPS', 'UBOB']);
    const fields = JSON.stringify(slack.posts[0]?.blocks);
    expect(fields).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;@U123&gt;');
    // No signing secret: no buttons that could never be verified.
    expect(slack.posts[0]?.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(r.gaveUp.map(([who]) => who).sort()).toEqual(['#gone', 'noaddress', 'nobody']);
  });

  it('waits out a rate limit as Retry-After says; a refused token or a dead API throws for the outbox to retry', async () => {
    const channel = await createSlackChannel(config(), recorder().undeliverable);
    const before = slack.posts.length;
    slack.rateLimitNext(1, 1);
    await channel.send(notice, { people: [], destinations: ['COPS'] });
    expect(slack.posts.length).toBe(before + 1);
    const badToken = await createSlackChannel(
      config({ tokenFile: file('bad', 'xoxb-revoked') }),
      recorder().undeliverable,
    );
    await expect(badToken.send(notice, { people: [], destinations: ['COPS'] })).rejects.toThrow(
      /invalid_auth/,
    );
    await slack.down();
    try {
      await expect(channel.send(notice, { people: [], destinations: ['COPS'] })).rejects.toThrow(/Slack/);
    } finally {
      await slack.up();
    }
  });

  it('refuses to start without its token file, naming the field and not the content', async () => {
    await expect(
      createSlackChannel(config({ tokenFile: join(dir, 'missing') }), recorder().undeliverable),
    ).rejects.toThrow(/notifications\.channels\.slack\.tokenFile: cannot read .*missing: ENOENT/);
  });
});

describe('the e-mail channel against a real SMTP server', () => {
  let pki: TestPki;
  let smtp: SmtpReceiver;
  const config = (over: Partial<ChannelConfigOf<'email'>> = {}): ChannelConfigOf<'email'> => ({
    name: 'mail',
    type: 'email',
    host: '127.0.0.1',
    port: smtp.port,
    tls: 'starttls',
    caFile: pki.caCert,
    username: 'elevate',
    passwordFile: file('smtp-pass', 'right-password'),
    from: 'elevate@example.com',
    timeout: 3_000,
    ...over,
  });
  beforeAll(async () => {
    pki = await writeTestPki(mkdtempSync(join(dir, 'pki-')));
    smtp = await startSmtpReceiver({
      pki,
      username: 'elevate',
      password: 'right-password',
      unknown: ['gone@example.com'],
    });
  });
  afterAll(() => smtp?.close());

  it('one mail per address over STARTTLS, text and escaped HTML; a mailbox refused for good is given up, the rest go', async () => {
    const r = recorder();
    const channel = await createEmailChannel(config(), r.undeliverable);
    await channel.send(notice, {
      people: [
        { user: 'bob', address: 'bob@example.com' },
        { user: 'gone', address: 'gone@example.com' },
      ],
      destinations: ['sec@example.com'],
    });
    await channel.close?.();
    expect(smtp.received.map((m) => m.to)).toEqual([['bob@example.com'], ['sec@example.com']]);
    const mail = smtp.received[0];
    expect(mail?.secure).toBe(true);
    expect(mail?.parsed.headers.get('x-elevate-event')).toBe('12');
    expect(mail?.parsed.text).toContain('Reason: <script>alert(1)</script>');
    expect(mail?.parsed.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail?.parsed.html).not.toContain('<script>');
    expect(r.gaveUp).toEqual([['gone@example.com', expect.stringMatching(/550/)]]);
  });

  it('a wrong password, an untrusted certificate or a server that is down throws (retried), without the password', async () => {
    const wrong = await createEmailChannel(
      config({ passwordFile: file('wrong', 'nope') }),
      recorder().undeliverable,
    );
    const attempt = wrong.send(notice, { people: [], destinations: ['x@example.com'] });
    await expect(attempt).rejects.toThrow(/Invalid username or password/);
    await expect(attempt).rejects.not.toThrow(/nope/);
    await wrong.close?.();
    const untrusted = await createEmailChannel(config({ caFile: undefined }), recorder().undeliverable);
    await expect(untrusted.send(notice, { people: [], destinations: ['x@example.com'] })).rejects.toThrow(
      /certificate/,
    );
    await untrusted.close?.();
    await smtp.down();
    try {
      const channel = await createEmailChannel(config(), recorder().undeliverable);
      await expect(channel.send(notice, { people: [], destinations: ['x@example.com'] })).rejects.toThrow(
        /ECONNREFUSED/,
      );
      await channel.close?.();
    } finally {
      await smtp.up();
    }
  });
});

describe('the webhook channel', () => {
  it('POSTs the notice with its recipients; a refusal throws for the outbox to retry', async () => {
    const hook = await startWebhookReceiver();
    try {
      const channel = await createWebhookChannel({
        name: 'hook',
        type: 'webhook',
        url: `${hook.url}/n`,
        secretFile: file('hook', 'hook-secret'),
        timeout: 3_000,
      });
      await channel.send(notice, { people: [{ user: 'bob', address: 'bob@example.com' }], destinations: [] });
      expect(hook.received[0]?.body).toMatchObject({
        kind: 'request.pending',
        requestId: 'ar-abc123',
        recipients: { people: [{ user: 'bob', email: 'bob@example.com' }] },
        event: { seq: 12 },
      });
      hook.failNext(1, 503);
      await expect(channel.send(notice, { people: [], destinations: [] })).rejects.toThrow(/503/);
    } finally {
      await hook.close();
    }
  });
});
