import type { KnownBlock } from '@slack/web-api';
import type { Notice } from '../../domain/notification.js';

/** The action ids of the buttons on a pending request, read back from Slack's interaction payload. */
export const approveAction = 'elevate.approve';
export const denyAction = 'elevate.deny';

const severityMark: Record<Notice['severity'], string> = {
  info: ':information_source:',
  warning: ':warning:',
  high: ':rotating_light:',
  critical: ':rotating_light: :rotating_light:',
};

/** Slack's mrkdwn treats &, < and > as markup: a reason must not turn into a link or a mention. */
const escapeMrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * A notice as Block Kit: a header, the summary, its facts as fields (Slack shows at most 10 per section),
 * buttons when it asks for a decision, and the audit event it tells of.
 */
export function slackBlocks(notice: Notice, withButtons: boolean): KnownBlock[] {
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(notice.title, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(escapeMrkdwn(notice.summary), 3000) } },
  ];
  for (let i = 0; i < notice.fields.length; i += 10) {
    blocks.push({
      type: 'section',
      fields: notice.fields.slice(i, i + 10).map(([label, value]) => ({
        type: 'mrkdwn',
        text: clip(`*${escapeMrkdwn(label)}*\n${escapeMrkdwn(value)}`, 2000),
      })),
    });
  }
  if (withButtons && notice.approvable && notice.requestId) {
    blocks.push({
      type: 'actions',
      block_id: `elevate:${notice.requestId}`,
      elements: [
        {
          type: 'button',
          action_id: approveAction,
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve' },
          value: notice.requestId,
        },
        {
          type: 'button',
          action_id: denyAction,
          style: 'danger',
          text: { type: 'plain_text', text: 'Deny' },
          value: notice.requestId,
          confirm: {
            title: { type: 'plain_text', text: 'Deny this request?' },
            text: { type: 'plain_text', text: `Request ${notice.requestId} will be denied.` },
            confirm: { type: 'plain_text', text: 'Deny' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `${severityMark[notice.severity]} ${notice.severity} · audit event ${notice.event.seq} · ${notice.event.hash.slice(0, 12)}`,
      },
    ],
  });
  return blocks;
}

/** The same message once decided from Slack: the buttons give way to who did what. */
export function decidedBlocks(original: KnownBlock[], outcome: string): KnownBlock[] {
  const kept = original.filter((b) => (b as { type?: string }).type !== 'actions');
  return [...kept, { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(outcome) } }];
}
