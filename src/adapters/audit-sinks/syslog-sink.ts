import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { SinkConfigOf } from '../../config/audit-sink-schema.js';
import type { AuditRecord } from '../../domain/audit-record.js';
import type { AuditSink } from '../../services/audit-sink.js';
import { caOf } from './sink-http.js';

/** Elevate's structured-data ID: a name@private-enterprise-number, as RFC 5424 §7.2.2 requires of private IDs. */
export const sdId = 'elevate@32473';

/**
 * The syslog severity of an action, kept to three: warning (4) for what someone should look at (a refusal,
 * a denial, a failure, a lockout, a binding Elevate had to repair, break-glass, a provider down, an overdue
 * review, a skipped delivery), notice (5) for access changing hands (granted, activated, extended,
 * revoked, expired), info (6) for everything else.
 */
export function syslogSeverity(action: string): 4 | 5 | 6 {
  if (
    /Refused|Denied|Denial|Failed|Locked|Unauthorized|Removed|Corrected|Restored|Unavailable|Overdue|Skipped|Rejected|Invalidated|BreakGlass/.test(
      action,
    )
  )
    return 4;
  if (/Grant|Activated|Extended|Revoke|Expired|Approved/.test(action)) return 5;
  return 6;
}

/** An RFC 5424 header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty. */
const headerField = (text: string, max: number) => text.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';

/** A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 §6.3.3). */
const paramValue = (text: string) => text.replace(/["\\\]]/g, (c) => `\\${c}`);

/**
 * One record as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, MSGID the
 * action, the chain position in structured data (so a collector can check seqs and hashes without parsing
 * the body) and the whole record as JSON for MSG (no BOM: plain UTF-8 JSON).
 */
export function syslogMessage(
  record: AuditRecord,
  options: { facility: number; appName: string; host: string; pid: number },
): string {
  const pri = options.facility * 8 + syslogSeverity(record.action);
  const params: [string, string][] = [
    ['seq', String(record.seq)],
    ['hash', record.hash],
    ['prevHash', record.prevHash],
    ...(record.requestId ? [['requestId', record.requestId] as [string, string]] : []),
  ];
  const sd = `[${sdId}${params.map(([k, v]) => ` ${k}="${paramValue(v)}"`).join('')}]`;
  const header = [
    `<${pri}>1`,
    record.time,
    headerField(options.host, 255),
    headerField(options.appName, 48),
    headerField(String(options.pid), 128),
    headerField(record.action, 32),
  ].join(' ');
  return `${header} ${sd} ${JSON.stringify(record)}`;
}

/** Octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function octetCounted(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}

/**
 * The audit trail sent to a syslog collector as RFC 5424 messages, octet-counted, over TCP or TLS (RFC 5425,
 * caFile, when given, the only CAs trusted). One connection is kept between batches. A batch resolves once
 * its bytes are handed to the kernel (the write callback): syslog has no acknowledgement, so this is the
 * most a sender can know. A connection that fails or closes is dropped and the next send reconnects; when
 * it broke during a batch, the relay sends the batch again, so the collector may see some records twice —
 * the seq in each message's structured data lets it drop repeats. A collector's close is noticed before
 * the kept connection is used again (one event-loop turn), so a collector that went away fails the next
 * send instead of swallowing it. What no sender can see: a batch written in the instant a collector dies,
 * or bytes it had read and not yet stored — that is syslog over TCP (RELP would close the gap).
 */
export async function createSyslogSink(config: SinkConfigOf<'syslog'>): Promise<AuditSink> {
  const field = `audit.sinks.${config.name}`;
  const ca = await caOf(config.caFile, field);
  const where = `${config.protocol}://${config.host}:${config.port}`;
  const options = { facility: config.facility, appName: config.appName, host: hostname(), pid: process.pid };
  let socket: Socket | null = null;
  // Sends run one after another even if a caller overlaps them: frames must not interleave.
  let queue: Promise<void> = Promise.resolve();

  const drop = (s: Socket) => {
    if (socket === s) socket = null;
    s.destroy();
  };

  /** A new connection, and when it is ready to write (connected, TLS handshake done). */
  function open(): { socket: Socket; ready: Promise<void> } {
    const s =
      config.protocol === 'tls'
        ? tlsConnect({
            host: config.host,
            port: config.port,
            ...(ca ? { ca } : {}),
            // SNI carries names only (RFC 6066); for an IP the certificate is still checked against it.
            ...(isIP(config.host) ? {} : { servername: config.host }),
          })
        : tcpConnect({ host: config.host, port: config.port });
    const ready = new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.once(config.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        s.off('error', reject);
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        // From now on an error or an end only drops the connection; the next send opens a new one.
        s.on('error', () => drop(s));
        s.on('end', () => drop(s));
        s.on('close', () => drop(s));
        // A collector has nothing to say; reading keeps its FIN (the end event) from going unnoticed.
        s.on('data', () => {});
        resolve();
      });
    });
    return { socket: s, ready };
  }

  async function deliver(records: AuditRecord[]): Promise<void> {
    const frames = Buffer.concat(records.map((r) => octetCounted(syslogMessage(r, options))));
    // A FIN or RST that came while idle is handled in the poll phase: give it one turn to be noticed
    // before trusting the kept connection.
    if (socket) await new Promise((r) => setImmediate(r));
    const { socket: conn, ready } = socket ? { socket, ready: Promise.resolve() } : open();
    socket = conn;
    let timer: NodeJS.Timeout | undefined;
    let closed = () => {};
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no connection or write within ${config.timeout}ms`)),
          config.timeout,
        );
        closed = () => reject(new Error('connection closed before the batch was written'));
        conn.once('close', closed);
        ready.then(() => conn.write(frames, (e) => (e ? reject(e) : resolve())), reject);
      });
    } catch (e) {
      drop(conn);
      throw new Error(`${where}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      conn.off('close', closed);
    }
  }

  return {
    name: config.name,
    type: 'syslog',
    send(records) {
      const run = queue.then(() => (records.length ? deliver(records) : undefined));
      queue = run.catch(() => {});
      return run;
    },
    async close() {
      await queue;
      const s = socket;
      socket = null;
      if (!s || s.destroyed) return;
      // A graceful end (TLS close_notify, FIN), bounded like a delivery in case the collector never closes.
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), config.timeout).unref();
      });
    },
  };
}
