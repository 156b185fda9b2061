import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { TestPki } from './test-pki.js';

export interface ReceivedMail {
  from: string;
  /** The envelope's recipients (RCPT TO). */
  to: string[];
  /** Whether the session was encrypted (STARTTLS) when the mail came. */
  secure: boolean;
  user: string | undefined;
  parsed: ParsedMail;
}

/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1 offering STARTTLS with the test CA's
 * certificate and AUTH PLAIN/LOGIN only once encrypted, as a mail relay is set up. Mailboxes listed in
 * `unknown` are refused at RCPT with 550, like a server that knows its users. It can be taken down and
 * brought back on the same port.
 */
export async function startSmtpReceiver(opts: {
  pki: TestPki;
  username: string;
  password: string;
  unknown?: string[];
}) {
  const received: ReceivedMail[] = [];
  const refusedLogins: string[] = [];
  let port = 0;
  let server: SMTPServer;

  async function listen(): Promise<void> {
    server = new SMTPServer({
      secure: false,
      key: readFileSync(opts.pki.serverKey),
      cert: readFileSync(opts.pki.serverCert),
      authMethods: ['PLAIN', 'LOGIN'],
      size: 1024 * 1024,
      logger: false,
      // Taken down mid-test: open (pooled) connections are cut at once rather than after 30 s.
      closeTimeout: 50,
      onAuth(auth, _session, done) {
        if (auth.username === opts.username && auth.password === opts.password)
          return done(null, { user: auth.username });
        refusedLogins.push(auth.username ?? '');
        return done(new Error('Invalid username or password'));
      },
      onRcptTo(address, _session, done) {
        if (opts.unknown?.includes(address.address.toLowerCase())) {
          const err = new Error('5.1.1 mailbox unavailable') as Error & { responseCode: number };
          err.responseCode = 550;
          return done(err);
        }
        return done();
      },
      onData(stream, session, done) {
        simpleParser(stream).then(
          (parsed) => {
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              secure: session.secure,
              user: session.user as string | undefined,
              parsed,
            });
            done();
          },
          (err: Error) => done(err),
        );
      },
    });
    server.on('error', () => {});
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    port = (server.server.address() as AddressInfo).port;
  }

  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    received,
    refusedLogins,
    /** Mails to one address, in the order they came. */
    to: (address: string) => received.filter((m) => m.to.includes(address)),
    down: close,
    up: listen,
    close,
  };
}
export type SmtpReceiver = Awaited<ReturnType<typeof startSmtpReceiver>>;
