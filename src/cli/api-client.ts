import type { Problem } from '../http/problem-handler.js';
import { describeDecision } from './render.js';

/** A thin HTTP client for the Elevate API, used by the CLI (which never opens the database). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The problem's `type` (…/otp-required: the server wants a one-time code), when the server sent one. */
    readonly problemType?: string,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  server: string;
  token: string | undefined;
}

export function createApiClient({ server, token }: ApiClientOptions) {
  const base = server.replace(/\/+$/, '');

  async function send(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(
        `cannot reach Elevate at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
        0,
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let detail = text;
      let problemType: string | undefined;
      try {
        const problem = JSON.parse(text) as Problem;
        detail = problem.detail ?? problem.title ?? text;
        problemType = problem.type;
        // A refusal by policy says which policies were considered, and where the attempt is on record.
        if (problem.decision) detail += `\n${describeDecision(problem.decision).join('\n')}`;
        if (problem.request) detail += `\nrecorded as accessrequest/${problem.request} (Denied)`;
      } catch {
        // not JSON: show the text as it came
      }
      throw new ApiError(`${detail} (HTTP ${res.status})`, res.status, problemType);
    }
    return res;
  }

  return {
    /** `headers`: extra request headers, e.g. Elevate-OTP. */
    async json<T>(
      method: string,
      path: string,
      body?: unknown,
      headers?: Record<string, string>,
    ): Promise<T> {
      return (await (await send(method, path, body, headers)).json()) as T;
    },
    async text(method: string, path: string): Promise<string> {
      return (await send(method, path)).text();
    },
  };
}
