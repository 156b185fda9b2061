import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What a ticket system or a sink may send before Elevate gives up on one answer. */
const maxBytes = 2 * 1024 * 1024;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** PEM to trust instead of the system's CAs. */
  ca: Buffer | null;
}

/**
 * One HTTP(S) exchange with a system outside (a ticket system, an audit sink), bounded in time and size. node:http(s) rather than fetch:
 * fetch cannot be given a private CA without another library. Errors say what went wrong (refused, timed
 * out, too large), never a header (they carry credentials).
 */
export function callHttp(call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const https = call.url.startsWith('https://');
    const send = https ? httpsRequest : httpRequest;
    const req = send(
      call.url,
      {
        method: call.method,
        headers: { accept: 'application/json', ...call.headers },
        timeout: call.timeoutMs,
        agent: false,
        ...(https && call.ca ? { ca: call.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) req.destroy(new Error(`answer larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    // Also bounds the whole exchange, not just idle sockets: one trickling bytes is as good as down.
    const deadline = setTimeout(
      () => req.destroy(new Error(`no answer within ${call.timeoutMs / 1000}s`)),
      call.timeoutMs,
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${call.timeoutMs / 1000}s`)));
    req.on('error', (e) => reject(e));
    req.on('close', () => clearTimeout(deadline));
    if (call.body !== undefined) req.write(call.body);
    req.end();
  });
}

/** The answer's JSON, or undefined when it is not JSON (an HTML login page, a proxy's error page). */
export function jsonOf(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body);
  } catch {
    return undefined;
  }
}
