import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SinkRejected } from '../../services/audit-sink.js';
import { callHttp, type HttpAnswer } from '../http/http-call.js';
import { readSecretFile } from '../secret-file.js';

/** How a sink authenticates over HTTP, as configured (files already absolute). */
export type SinkHttpAuth =
  | { type: 'basic'; username: string; passwordFile: string }
  | { type: 'bearer'; tokenFile: string }
  | { type: 'apiKey'; keyFile: string };

/** The Authorization header's value, its secret read once at start; null without auth. */
export async function authorizationOf(auth: SinkHttpAuth | undefined, field: string): Promise<string | null> {
  if (!auth) return null;
  if (auth.type === 'basic') {
    const password = await readSecretFile(auth.passwordFile, `${field}.passwordFile`);
    return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
  }
  if (auth.type === 'bearer') return `Bearer ${await readSecretFile(auth.tokenFile, `${field}.tokenFile`)}`;
  return `ApiKey ${await readSecretFile(auth.keyFile, `${field}.keyFile`)}`;
}

/** The PEM bundle of caFile, checked to hold a certificate so a wrong path fails the start, not delivery. */
export async function caOf(caFile: string | undefined, field: string): Promise<Buffer | null> {
  if (!caFile) return null;
  let pem: Buffer;
  try {
    pem = await readFile(caFile);
  } catch (e) {
    throw new Error(
      `${field}.caFile: cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new Error(`${field}.caFile: ${caFile} holds no PEM certificate`);
  }
  return pem;
}

export interface SinkRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
  timeoutMs: number;
  ca: Buffer | null;
  /**
   * Whether a non-2xx answer refuses the content for good, where the sink's own error code knows better
   * than the status (Splunk answers a token's disallowed index with a 400); refusesContent(status) if absent.
   */
  refuses?: (answer: HttpAnswer) => boolean;
}

/**
 * A status that refuses the content itself (malformed, too large, unprocessable): sending the same again
 * will never work, so the relay counts it against the event and in the end skips it. Every other failure
 * — overloaded, throttled, failing, and also a refused credential (401/403) or a wrong path (404), which
 * an operator fixes in the config — is retried for ever: no event is given up because of a setup mistake.
 */
export const refusesContent = (status: number) => status === 400 || status === 413 || status === 422;

/**
 * One request to a sink, its answer judged as the relay needs it: 2xx is returned; a refusal of the
 * content (refusesContent) throws SinkRejected; anything else (5xx, 408/429, 401/403, no answer) throws a
 * plain Error, which the relay retries. Messages name the sink's origin and status and a short
 * excerpt of its answer, never the request's headers (they carry the credentials).
 */
export async function sendToSink(request: SinkRequest): Promise<HttpAnswer> {
  const origin = new URL(request.url).origin;
  let answer: HttpAnswer;
  try {
    answer = await callHttp(request);
  } catch (e) {
    throw new Error(`${origin}: ${(e as Error).message}`);
  }
  if (answer.status >= 200 && answer.status < 300) return answer;
  const excerpt = answer.body.replace(/\s+/g, ' ').trim().slice(0, 200);
  const message = `${origin} answered ${answer.status}${excerpt ? `: ${excerpt}` : ''}`;
  if (request.refuses ? request.refuses(answer) : refusesContent(answer.status))
    throw new SinkRejected(message);
  throw new Error(message);
}
