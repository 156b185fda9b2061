import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.js';
import type { TestPki } from './test-pki.js';

export interface RsyslogReceiver {
  port: number;
  /** The messages received so far, each exactly as it came (rsyslog's %rawmsg%, framing removed). */
  lines(): Promise<string[]>;
  /** Stops rsyslogd (connections end, new ones refused); what it received stays readable. */
  stop(): Promise<void>;
  /** Starts it again on the same port, appending to the same file. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** rsyslogd as `make test` installs it (scripts/ensure-rsyslog.sh). */
function rsyslogdPath(): string {
  const script = resolve(import.meta.dirname, '../../scripts/ensure-rsyslog.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/**
 * A real syslog receiver: rsyslogd in the foreground with a config of its own (never the system's), its
 * imtcp listener on a free 127.0.0.1 port — plain TCP, or TLS (RFC 5425) with `tls`'s certificate —
 * writing every message it receives, raw, one per line, to a file the test reads.
 */
export async function startRsyslogReceiver(options: { tls?: TestPki } = {}): Promise<RsyslogReceiver> {
  const bin = rsyslogdPath();
  const dir = await mkdtemp(join(tmpdir(), 'elevate-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'received.log');
  const tls = options.tls;
  const config = [
    `global(workDirectory="${dir}" maxMessageSize="256k")`,
    ...(tls
      ? [
          `global(defaultNetstreamDriverCAFile="${tls.caCert}" defaultNetstreamDriverCertFile="${tls.serverCert}"`,
          `       defaultNetstreamDriverKeyFile="${tls.serverKey}")`,
          'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")',
        ]
      : ['module(load="imtcp")']),
    'template(name="raw" type="string" string="%rawmsg%\\n")',
    // A ruleset of its own, so rsyslogd's own start/stop messages stay out of the file.
    `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="received")`,
    `ruleset(name="received") { action(type="omfile" file="${out}" template="raw") }`,
  ].join('\n');
  const conf = join(dir, 'rsyslog.conf');
  await writeFile(conf, `${config}\n`);
  let child: ChildProcess | null = null;
  let output = '';

  async function start(): Promise<void> {
    output = '';
    const proc = spawn(bin, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk}`.slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode}): ${output}`);
      if (await listensOn(port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    proc.kill('SIGKILL');
    throw new Error(`rsyslogd did not listen on ${port} within 20s: ${output}`);
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    port,
    async lines() {
      const text = await readFile(out, 'utf8').catch(() => '');
      // Only whole lines: rsyslogd may be halfway through writing the last one.
      return text
        .slice(0, text.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l !== '');
    },
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether something listens on 127.0.0.1:port (a bare connect, closed at once). */
export function listensOn(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
