import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { freePort } from './free-port.js';
import { listensOn } from './rsyslog-receiver.js';

export interface MotoS3Server {
  /** http(s)://127.0.0.1:PORT: an S3 endpoint (path-style addressing) taking any credentials but moto's own. */
  endpoint: string;
  /** Stops the server: connections refused. Its buckets and objects live in memory and go with it. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are taken by the kernel but never answered; state kept. */
  pause(): void;
  resume(): void;
  /** An IAM user allowed s3:* and a fresh access key of theirs (made before enforceAuth; over http only). */
  createS3User(name: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /**
   * From now on every request must be signed with a key moto issued and be allowed by its IAM policies
   * (moto accepts anything until then): wrong keys get InvalidAccessKeyId, wrong secrets
   * SignatureDoesNotMatch, as from AWS. A restart forgets it.
   */
  enforceAuth(): Promise<void>;
}

/** moto_server from the pinned venv that `make test` installs (scripts/ensure-moto.sh). */
function motoServerPath(): string {
  const script = resolve(import.meta.dirname, '../../scripts/ensure-moto.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/**
 * A real S3-compatible server — moto's server mode — on a free 127.0.0.1 port, for tests of the S3 audit
 * sink, over https with `tls`'s certificate and key. It is ready once it listens; the test stops, restarts,
 * pauses and resumes it to play a store that is down or hung.
 */
export async function startMotoS3(
  options: { tls?: { cert: string; key: string } } = {},
): Promise<MotoS3Server> {
  const bin = motoServerPath();
  const port = await freePort();
  const endpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const tlsArgs = options.tls ? ['-c', options.tls.cert, '-k', options.tls.key] : [];
  let child: ChildProcess | null = null;
  let output = '';

  async function start(): Promise<void> {
    output = '';
    const proc = spawn(bin, ['-H', '127.0.0.1', '-p', String(port), ...tlsArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Unbuffered, so its log is there to show when it fails to start.
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    child = proc;
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk}`.slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`moto_server exited (${proc.exitCode}): ${output}`);
      // It listens once its app is built; requests from then on are served.
      if (await listensOn(port)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    proc.kill('SIGKILL');
    throw new Error(`moto_server did not listen on ${endpoint} within 60s: ${output}`);
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    // A paused process only acts on SIGTERM once it runs again.
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** One IAM query-API call, unsigned: moto routes it by the credential scope and checks nothing yet. */
  async function iam(params: Record<string, string>): Promise<string> {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: new URLSearchParams({ ...params, Version: '2010-05-08' }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`moto IAM ${params.Action}: ${res.status} ${text}`);
    return text;
  }

  async function createS3User(name: string) {
    await iam({ Action: 'CreateUser', UserName: name });
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
    await iam({
      Action: 'PutUserPolicy',
      UserName: name,
      PolicyName: 's3',
      PolicyDocument: JSON.stringify(policy),
    });
    const key = await iam({ Action: 'CreateAccessKey', UserName: name });
    const field = (tag: string) => {
      const value = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(key)?.[1];
      if (!value) throw new Error(`moto CreateAccessKey: no ${tag} in ${key}`);
      return value;
    };
    return { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey') };
  }

  async function enforceAuth() {
    const res = await fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    if (!res.ok) throw new Error(`moto reset-auth: ${res.status} ${await res.text()}`);
  }

  await start();
  return {
    endpoint,
    stop,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    createS3User,
    enforceAuth,
  };
}
