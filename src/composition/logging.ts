import { type DestinationStream, type Logger, pino } from 'pino';
import type { AccessRequest } from '../domain/access-request.js';

/**
 * JSON logs to stdout (or `destination`). Request logs carry the method and the path, never headers or the
 * query string: a token pasted into a URL must not reach a log.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', '*.token', '*.kubeconfig'], censor: '[redacted]' },
      serializers: { req: requestForLog },
    },
    destination,
  );
}

/** Replaces Fastify's request serializer, which logs the whole URL. */
function requestForLog(req: { method?: string; url?: string; ip?: string }) {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return {
    method: req.method,
    url: query === -1 ? url : `${url.slice(0, query)}?[redacted]`,
    remoteAddress: req.ip,
  };
}

/** One line per saved change of a request: its phase, who, which clusters, and its message. */
export function requestChangeLogger(logger: Logger) {
  return (r: AccessRequest) =>
    logger.info(
      {
        request: r.id,
        phase: r.phase,
        user: r.spec.requester,
        clusters: [...new Set(r.spec.targets.map((t) => t.cluster))],
      },
      r.message,
    );
}
