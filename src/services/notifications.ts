import type { NotificationRule } from '../config/notification-schema.js';
import type { AccessRequest } from '../domain/access-request.js';
import type { AuditEvent } from '../domain/audit-event.js';
import { kindOf, type Notice, noticeFor, passesFilter } from '../domain/notification.js';
import type { NotificationChannel, Person, Recipients } from './notification-channel.js';
import type { OutboxConsumer } from './outbox.js';
import type { KnownIdentity, Store } from './ports.js';

/** The outbox cursor of a channel; a renamed channel starts afresh from the head. */
export const channelConsumerName = (channel: string) => `notify:${channel}`;

const looksLikeAddress = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * E-mail addresses of people: notifications.addresses first (token-file users), else the name itself when
 * it is one (OIDC users named by their verified e-mail). Used both ways: a Slack clicker's e-mail names them.
 */
export function createAddressBook(addresses: Record<string, string>) {
  const byAddress = new Map(Object.entries(addresses).map(([user, a]) => [a.toLowerCase(), user]));
  return {
    addressOf(user: string): string | null {
      return addresses[user] ?? (looksLikeAddress.test(user) ? user : null);
    },
    userOf(address: string): string {
      return byAddress.get(address.toLowerCase()) ?? address;
    },
  };
}
export type AddressBook = ReturnType<typeof createAddressBook>;

export interface NotificationDeps {
  store: Pick<Store, 'getRequest' | 'listKnownIdentities'>;
  addresses: AddressBook;
}

/**
 * One channel as an outbox consumer: each audit event some rule sends to it becomes one notice, for the
 * union of the recipients of those rules. From the head (a new channel replays no history), one event per
 * delivery and never skipped: a channel that is down holds its own notices until it is back.
 */
export function channelConsumer(
  channel: NotificationChannel,
  allRules: NotificationRule[],
  deps: NotificationDeps,
): OutboxConsumer {
  const rules = allRules.filter((r) => r.channel === channel.name);
  const kinds = new Set(rules.flatMap((r) => r.events));
  return {
    name: channelConsumerName(channel.name),
    startAt: 'head',
    maxEventsPerDelivery: 1,
    wants: (e) => {
      const k = kindOf(e);
      return k !== null && kinds.has(k.kind);
    },
    async deliver(events) {
      for (const e of events) {
        const planned = await plan(e, rules, deps);
        if (planned) await channel.send(planned.notice, planned.to);
      }
    },
  };
}

/** The notice an event makes for this channel's rules, and who gets it; null when no rule sends it. */
export async function plan(
  e: AuditEvent,
  rules: NotificationRule[],
  deps: NotificationDeps,
): Promise<{ notice: Notice; to: Recipients } | null> {
  const k = kindOf(e);
  if (!k) return null;
  const request = e.requestId ? await deps.store.getRequest(e.requestId) : null;
  // Sent late (the channel was down), a request already decided asks nobody for anything.
  if (k.kind === 'request.pending' && request && request.phase !== 'Pending') return null;
  const notice = noticeFor(e, k.kind, k.severity, request);
  const applying = rules.filter((r) => r.events.includes(k.kind) && passesFilter(r, notice, request));
  if (applying.length === 0) return null;
  const people = new Map<string, Person>();
  const destinations = new Set<string>();
  for (const rule of applying) {
    for (const to of rule.to ?? defaultRecipients(k.kind)) {
      if (to === 'approvers' || to === 'requester') {
        for (const user of await peopleOf(to, request, deps))
          people.set(user, { user, address: deps.addresses.addressOf(user) });
      } else destinations.add(to);
    }
  }
  return { notice, to: { people: [...people.values()], destinations: [...destinations] } };
}

function defaultRecipients(kind: Notice['kind']): string[] {
  if (kind === 'request.pending') return ['approvers'];
  if (kind.startsWith('request.') || kind.startsWith('grant.')) return ['requester'];
  // For no one person: a channel's own default (a Slack conversation, the webhook itself) takes it.
  return [];
}

/**
 * The approvers of a request by name, and the members of its approver groups as Elevate last saw them sign
 * in; never the requester, who may not approve their own request.
 */
async function peopleOf(
  who: 'approvers' | 'requester',
  request: AccessRequest | null,
  deps: NotificationDeps,
): Promise<string[]> {
  if (!request) return [];
  if (who === 'requester') return [request.spec.requester];
  const { users, groups } = request.policy.approvers;
  const members =
    groups.length > 0
      ? (await deps.store.listKnownIdentities()).filter((p: KnownIdentity) =>
          p.groups.some((g) => groups.includes(g)),
        )
      : [];
  return [...new Set([...users, ...members.map((m) => m.user)])].filter((u) => u !== request.spec.requester);
}
