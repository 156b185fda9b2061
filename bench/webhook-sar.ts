/**
 * Webhook grants as a cluster sees them: a one-cluster testenv whose API server asks Elevate (in this
 * process, HTTPS) after Node and RBAC, nothing cached (`testenv up --authz-webhook`). Prints
 *  1. Elevate's /api/v1/authorize/dev answered directly over HTTPS keep-alive, 32 in flight: round-trip and rate;
 *  2. SubjectAccessReviews to the API server (which asks Elevate for what RBAC denies), 32 in flight;
 *  3. revocation: from the revoke's answer until the API server denies (SARs back to back);
 *  4. expiry: from expiresAt until the API server denies.
 *
 *   npx tsx bench/webhook-sar.ts [seconds per load phase]      # default 5
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { composeElevate, createLogger } from '../src/composition-root.js';
import { parseConfig } from '../src/config/load-config.js';
import { writeLoopbackPki } from '../src/testenv/cluster-pki.js';
import { freePort } from '../src/testenv/free-port.js';
import { testenvDown, testenvUp } from '../src/testenv/testenv.js';
import { wallNow } from './bench-api.js';
import { progress, report, runBench } from './bench-io.js';
import { summaryLine } from './percentile.js';
import { createSarClient } from './sar-client.js';

const phaseSeconds = Number(process.argv[2] ?? 5);
const inFlight = 32;
const users = Array.from({ length: 100 }, (_, i) => `hook-user-${String(i).padStart(3, '0')}`);
const namespace = 'bench-hook';

runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'elevate-bench-webhook-'));
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'authz-token'), token);
  const pki = await writeLoopbackPki(dir, 'elevate-bench');
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  let stopElevate: (() => Promise<void>) | undefined;
  try {
    const [cluster] = await testenvUp({
      dir: join(dir, 'testenv'),
      authzWebhook: {
        url: `${url}/api/v1/authorize/{cluster}`,
        tokenFile: join(dir, 'authz-token'),
        caFile: pki.caCert,
      },
      log: progress,
    });
    if (!cluster) throw new Error('no cluster');
    writeFileSync(
      join(dir, 'tokens.csv'),
      `${users.map((u) => `token-${u},${u},uid-${u},"devs"`).join('\n')}\ntoken-root,root,uid-root,"admins"\n`,
    );
    const text = `listen: 127.0.0.1:${port}
storage: sqlite:./elevate.db
logLevel: silent
tls: { certFile: ${pki.serverCert}, keyFile: ${pki.serverKey} }
auth: { tokenFile: ./tokens.csv, admins: { groups: [admins] } }
clusters:
  - name: dev
    kubeconfig: ${cluster.elevateKubeconfigPath}
    grants: [webhook]
    authorization: { tokenFile: ${join(dir, 'authz-token')} }
limits: { minDuration: 1s }
policies:
  - { name: hook, match: { groups: [devs], roles: [view] }, decision: auto, maxDuration: 8h, grant: webhook }
`;
    const file = join(dir, 'elevate.yaml');
    writeFileSync(file, text);
    const elevate = await composeElevate(parseConfig(text, file), createLogger('silent'));
    await elevate.start();
    stopElevate = () => elevate.stop();
    const ca = readFileSync(pki.caCert);
    const agent = new https.Agent({ keepAlive: true, maxSockets: inFlight, ca });
    const post = (path: string, auth: string, body: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(
          `${url}${path}`,
          {
            method: 'POST',
            agent,
            headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
          },
          (res) => {
            let data = '';
            res.on('data', (c) => {
              data += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    const ask = (user: string, duration: string) =>
      post('/api/v1/accessrequests', `token-${user}`, {
        spec: { cluster: 'dev', role: 'view', namespace, duration, reason: 'bench' },
      });
    const sar = await createSarClient(cluster.kubeconfigPath, inFlight);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });

    // Half the users hold a grant: the webhook's index is searched for both kinds of user.
    for (const u of users.slice(0, 50)) {
      const r = await ask(u, '1h');
      if (r.status !== 201) throw new Error(`grant for ${u}: ${r.status} ${r.body}`);
    }
    const review = (user: string) => ({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user, groups: ['devs'], resourceAttributes: { verb: 'get', resource: 'pods', namespace } },
    });

    /** `inFlight` loops calling `once` for `phaseSeconds`; each call's round-trip. */
    async function load(once: (i: number) => Promise<void>): Promise<{ rtts: number[]; rate: number }> {
      const rtts: number[] = [];
      const until = wallNow() + phaseSeconds * 1000;
      let n = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (wallNow() < until) {
            const t0 = wallNow();
            await once(n++);
            rtts.push(wallNow() - t0);
          }
        }),
      );
      return { rtts, rate: rtts.length / phaseSeconds };
    }

    progress('direct: POST /api/v1/authorize/dev');
    const direct = await load(async (i) => {
      const r = await post('/api/v1/authorize/dev', token, review(users[i % users.length] as string));
      if (r.status !== 200) throw new Error(`authorize: ${r.status}`);
    });
    progress('through the API server: SubjectAccessReviews');
    const viaApi = await load(async (i) => {
      await sar.allowed(users[i % users.length] as string, namespace);
    });

    progress('revocation and expiry, 20 each');
    const revoked: number[] = [];
    const expired: number[] = [];
    for (let i = 0; i < 20; i++) {
      const user = users[50 + i] as string;
      const r = JSON.parse((await ask(user, '1h')).body);
      while (!(await sar.allowed(user, namespace))) await new Promise((res) => setTimeout(res, 5));
      await post(`/api/v1/accessrequests/${r.metadata.name}/revoke`, `token-${user}`, {});
      const answered = wallNow();
      while (await sar.allowed(user, namespace));
      revoked.push(wallNow() - answered);
    }
    for (let i = 0; i < 20; i++) {
      const user = users[70 + i] as string;
      const r = JSON.parse((await ask(user, '2s')).body);
      const expiresAt = Date.parse(r.status.grant.expiresAt);
      await new Promise((res) => setTimeout(res, Math.max(0, expiresAt - 20 - wallNow())));
      while (await sar.allowed(user, namespace));
      expired.push(wallNow() - expiresAt);
    }
    sar.close();
    agent.destroy();

    report(
      `# Webhook grants through a real API server (Elevate in-process, load ${loadavg()[0]?.toFixed(1)})`,
    );
    report(summaryLine(`Elevate /authorize round-trip (${inFlight} in flight)`, direct.rtts));
    report(`  Elevate /authorize rate: ${Math.round(direct.rate)}/s`);
    report(summaryLine(`API server SAR round-trip (${inFlight} in flight)`, viaApi.rtts));
    report(`  API server SAR rate (each asking Elevate for what RBAC denies): ${Math.round(viaApi.rate)}/s`);
    report(summaryLine('revoke answered -> SAR denied', revoked));
    report(summaryLine('expiresAt -> SAR denied', expired));
  } finally {
    await stopElevate?.();
    await testenvDown({ dir: join(dir, 'testenv') });
    rmSync(dir, { recursive: true, force: true });
  }
});
