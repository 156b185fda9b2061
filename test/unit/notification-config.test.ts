import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';

const base = `storage: sqlite:./elevate.db
auth:
  tokenFile: ./tokens.csv
clusters:
  - name: dev
    kubeconfig: ./dev.kubeconfig
`;

const channels = `notifications:
  channels:
    - { name: slack, type: slack, tokenFile: ./slack-token }
    - { name: mail, type: email, host: smtp.example.com, from: elevate@example.com }
    - { name: hook, type: webhook, url: 'https://hooks.example.com/elevate', secretFile: ./hook }
`;

const parse = (notifications: string) => parseConfig(`${base}${notifications}`, '/etc/elevate/elevate.yaml');

describe('notifications config', () => {
  it('reads channels and rules, with secret paths made absolute and the documented defaults', () => {
    const c = parse(`${channels}  rules:
    - { events: [request.pending], channel: slack }
    - { events: [breakglass], channel: mail, to: [security@example.com], minSeverity: high, clusters: ['prod-*'] }
`);
    expect(c.notifications.channels[0]).toMatchObject({
      tokenFile: '/etc/elevate/slack-token',
      apiUrl: 'https://slack.com/api/',
      timeout: 10_000,
    });
    expect(c.notifications.channels[1]).toMatchObject({ port: 587, tls: 'starttls' });
    expect(c.notifications.expiryWarningMs).toBe(600_000);
    expect(c.notifications.rules).toHaveLength(2);
  });

  it.each([
    [
      'a rule for an unknown channel',
      '    - { events: [grant.ended], channel: teams }',
      /rules\[0\]\.channel: unknown channel teams/,
    ],
    ['an unknown event', '    - { events: [grant.exploded], channel: mail }', /rules\[0\]\.events\[0\]/],
    [
      'an e-mail rule to a Slack conversation',
      "    - { events: [grant.ended], channel: mail, to: ['#ops'] }",
      /expected approvers, requester or an e-mail address, not #ops/,
    ],
    [
      'a Slack rule to an e-mail address',
      '    - { events: [grant.ended], channel: slack, to: [ops@example.com] }',
      /Slack conversation/,
    ],
    [
      'break-glass by e-mail without a recipient',
      '    - { events: [breakglass], channel: mail }',
      /breakglass are for no one person: say who gets them/,
    ],
    [
      'break-glass to Slack with no conversation',
      '    - { events: [escalation.refused], channel: slack }',
      /rules\[0\]\.to/,
    ],
    [
      'an unknown severity',
      '    - { events: [grant.ended], channel: mail, minSeverity: urgent }',
      /minSeverity/,
    ],
  ])('refuses %s, naming the field', (_what, rule, message) => {
    expect(() => parse(`${channels}  rules:\n${rule}\n`)).toThrow(message);
  });

  it.each([
    [
      'a channel named twice',
      '    - { name: mail, type: webhook, url: "https://x.example.com", secretFile: ./s }',
      /channel mail is named twice/,
    ],
    [
      'a username without a password file',
      '    - { name: m2, type: email, host: h, from: a@example.com, username: u }',
      /give both username and passwordFile/,
    ],
    [
      'a webhook without its secret',
      '    - { name: h2, type: webhook, url: "https://x.example.com" }',
      /channels\[3\]\.secretFile/,
    ],
    ['an unknown field', '    - { name: s2, type: slack, tokenFile: ./t, channel: "#x" }', /channels\[3\]/],
    [
      'a webhook URL with credentials',
      '    - { name: h3, type: webhook, url: "https://u:p@x.example.com", secretFile: ./s }',
      /credentials/,
    ],
  ])('refuses %s', (_what, channel, message) => {
    expect(() => parse(`${channels}${channel}\n`)).toThrow(ConfigError);
    expect(() => parse(`${channels}${channel}\n`)).toThrow(message);
  });
});
