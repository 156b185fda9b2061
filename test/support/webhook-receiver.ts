import type { IncomingHttpHeaders } from 'node:http';
import { type SaasControls, startSaasServer } from './saas-server.js';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * An incoming-webhook endpoint (Slack-style, or any receiver of JSON POSTs) on 127.0.0.1: records what it
 * accepted, can answer the next N calls with an error, or be down (connections refused) via down()/up().
 */
export async function startWebhookReceiver(): Promise<
  SaasControls & {
    /** Bodies answered 2xx, in the order they came. */
    received: ReceivedWebhook[];
    /** Calls answered with an error so far. */
    refused: number;
    failNext(count: number, status?: number): void;
    /** Answers with the status `judge` gives for a body (null: accept), e.g. 400 for one holding a poison event. */
    refuseWhen(judge: ((body: Record<string, unknown>) => number | null) | null): void;
  }
> {
  let judge: ((body: Record<string, unknown>) => number | null) | null = null;
  const failing = { count: 0, status: 500 };
  const state = { refused: 0 };
  const received: ReceivedWebhook[] = [];
  const controls = await startSaasServer((req, res, body) => {
    if (failing.count > 0) {
      failing.count -= 1;
      state.refused += 1;
      res.writeHead(failing.status, { 'content-type': 'text/plain' }).end('no');
      return;
    }
    if (req.method !== 'POST' || !req.headers['content-type']?.startsWith('application/json')) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
      return;
    }
    const parsed = JSON.parse(body);
    const refusal = judge?.(parsed) ?? null;
    if (refusal !== null) {
      state.refused += 1;
      res.writeHead(refusal, { 'content-type': 'text/plain' }).end('refused');
      return;
    }
    received.push({ path: (req.url ?? '').split('?')[0] ?? '', headers: req.headers, body: parsed });
    // What Slack answers.
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  return {
    ...controls,
    received,
    get refused() {
      return state.refused;
    },
    failNext(count: number, status = 500) {
      failing.count = count;
      failing.status = status;
    },
    refuseWhen(next) {
      judge = next;
    },
  };
}
