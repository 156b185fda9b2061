import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { problemBody } from './problem-handler.js';

/**
 * Errors Fastify meets before any route is chosen (a path segment longer than maxParamLength, bad
 * percent-encoding), answered as problems. Fastify's defaults are plain JSON that repeat the whole URL.
 */
export function onFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is too long to name anything here'
      : 'the URL is not valid (bad percent-encoding)';
  void reply.code(400).type('application/problem+json').send(problemBody(400, detail));
}

const clientErrors: Record<string, [number, string]> = {
  HPE_INVALID_METHOD: [501, 'the HTTP method is not one this server knows'],
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request took too long to arrive'],
};

/**
 * Requests Node's HTTP parser refuses (an unknown method such as FOO, oversized headers, malformed
 * framing) never reach Fastify's handlers: answer them as problems on the raw socket, then close it.
 */
export function onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] = clientErrors[error.code ?? ''] ?? [400, 'the request is not valid HTTP'];
  const body = JSON.stringify(problemBody(status, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${problemBody(status, '').title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
