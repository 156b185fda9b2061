import type { Notice } from '../domain/notification.js';

/** A person a notice is for: their Elevate name, and their e-mail address when it is known. */
export interface Person {
  user: string;
  address: string | null;
}

/** Who one notice goes to on one channel, gathered from every rule that sends it there. */
export interface Recipients {
  people: Person[];
  /** Written in the rules' `to`: e-mail addresses, or Slack conversations. */
  destinations: string[];
}

/**
 * Where notices are sent: Slack, e-mail, a signed webhook. send() resolves once the notice is handed over
 * to everyone it can reach; it throws when the service could not take it (down, refused our credentials),
 * and the outbox offers it again. A recipient the service will never reach (no such Slack user, a mailbox
 * that does not exist) is reported through `undeliverable` and not retried.
 */
export interface NotificationChannel {
  name: string;
  type: 'slack' | 'email' | 'webhook';
  send(notice: Notice, to: Recipients): Promise<void>;
  close?(): Promise<void>;
}

/** Told of a recipient a channel gave up on for good, for the log. */
export type Undeliverable = (channel: string, recipient: string, reason: string) => void;
