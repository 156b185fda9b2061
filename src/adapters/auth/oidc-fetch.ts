import { request } from 'node:https';

/** What the issuer's endpoints may take and send before Elevate gives up on one fetch. */
const timeoutMs = 10_000;
const maxBytes = 1024 * 1024;

/**
 * GETs a JSON document over HTTPS, trusting `ca` (PEM) when given, else the system's CAs. node:https
 * rather than fetch: fetch cannot be given a CA without an extra dispatcher library. Errors name the URL
 * and what went wrong, never a body (a misconfigured endpoint may answer with anything).
 */
export function fetchJson(url: string, ca: Buffer | null): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => reject(new Error(`${url}: ${reason}`));
    if (!url.startsWith('https://')) return fail('only https URLs are fetched');
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: timeoutMs,
        // A fresh connection each time: fetches are minutes apart, and a pooled socket the issuer has
        // since closed would fail a fetch for nothing.
        agent: false,
        ...(ca ? { ca } : {}),
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return fail(`HTTP ${res.statusCode}`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            fail(`larger than ${maxBytes} bytes`);
          } else chunks.push(chunk);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            fail('not JSON');
          }
        });
        res.on('error', (e) => fail(e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', (e) => fail(e.message));
    req.end();
  });
}
