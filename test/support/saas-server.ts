import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What every stand-in for an outside service shares: a real HTTP server on 127.0.0.1 that the test can
 * take down (connections refused), slow down (answers held back), or make answer garbage, and that counts
 * the calls it got. The service's own wire format is the handler's business.
 */
export interface SaasControls {
  url: string;
  /** Requests answered or refused so far, by path without query. */
  calls: { method: string; path: string; authorization: string | undefined }[];
  /** Refuses connections until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Holds each answer back this long (0: none). */
  slow(ms: number): void;
  /** Answers every request with an HTML page (a login portal, a proxy error) until garbage(false). */
  garbage(on: boolean): void;
  close(): Promise<void>;
}

export type SaasHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export async function startSaasServer(handle: SaasHandler): Promise<SaasControls> {
  const state = { delayMs: 0, garbage: false };
  const calls: SaasControls['calls'] = [];
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server;

  function listen(): Promise<void> {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls.push({
          method: req.method ?? '',
          path: (req.url ?? '').split('?')[0] ?? '',
          authorization: req.headers.authorization,
        });
        const answer = () => {
          if (state.garbage) {
            res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Log in</body></html>');
            return;
          }
          handle(req, res, Buffer.concat(chunks).toString('utf8'));
        };
        if (state.delayMs > 0) setTimeout(answer, state.delayMs);
        else answer();
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    return new Promise((resolve) => {
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  function stop(): Promise<void> {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    down: stop,
    up: listen,
    slow(ms) {
      state.delayMs = ms;
    },
    garbage(on) {
      state.garbage = on;
    },
    close: stop,
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers })
    .end(JSON.stringify(body));
}

/** The user name and password of a Basic Authorization header, or null. */
export function basicCredentials(header: string | undefined): [string, string] | null {
  const m = /^Basic (.+)$/.exec(header ?? '');
  if (!m?.[1]) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon === -1 ? null : [text.slice(0, colon), text.slice(colon + 1)];
}
