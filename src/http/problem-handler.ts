import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  Conflict,
  DomainError,
  Forbidden,
  Invalid,
  NotFound,
  OtpRefused,
  Refused,
  RequestRefused,
  Unauthenticated,
  Unavailable,
} from '../domain/errors.js';
import { decisionOf } from './resources.js';

const statusOf = (e: DomainError): number => {
  if (e instanceof Invalid) return 400;
  if (e instanceof Unauthenticated) return 401;
  if (e instanceof Forbidden) return 403;
  if (e instanceof NotFound) return 404;
  if (e instanceof Conflict) return 409;
  if (e instanceof Refused) return 502;
  if (e instanceof Unavailable) return 503;
  return 500;
};

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
  errors?: { field: string; message: string }[];
  request?: string;
  decision?: ReturnType<typeof decisionOf>;
}

/** Input can be up to 64 KiB; what a problem repeats of it stays short. */
export const clip = (text: string, max = 200): string =>
  text.length > max ? `${text.slice(0, max)}…` : text;

/** An RFC 9457 problem document. */
export function problemBody(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  const title = titles[status] ?? 'Error';
  return {
    type: `https://elevate.dev/problems/${title.toLowerCase().replaceAll(' ', '-')}`,
    title,
    status,
    detail: clip(detail, 1000),
    ...extra,
  };
}

/** Fastify's own 4xx errors, said without repeating the input (their messages quote headers and bodies). */
const frameworkDetails: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body must be application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is larger than 64 KiB',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: 'the body could not be read',
};

function frameworkDetail(error: FastifyError): string {
  if (error.code && frameworkDetails[error.code]) return frameworkDetails[error.code] as string;
  // JSON.parse errors quote the body they choke on.
  if (error instanceof SyntaxError) return 'the body is not valid JSON';
  return clip(error.message);
}

interface ValidationItem {
  instancePath: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}
interface UnionIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  errors?: UnionIssue[][];
}

/**
 * "Invalid input" says nothing when a value fits none of a union's shapes (a spec with one target or with
 * several): the shape it came closest to — the fewest issues — is the one the caller meant, so its issues
 * are reported instead.
 */
function unwrapUnion(v: ValidationItem): ValidationItem[] {
  const branches = (v.keyword === 'invalid_union' ? (v.params?.errors as UnionIssue[][]) : [])?.filter(
    (b) => b.length > 0,
  );
  if (!branches?.length) return [v];
  const closest = branches.reduce((best, b) => (b.length < best.length ? b : best));
  return closest.flatMap((issue) =>
    unwrapUnion({
      instancePath: [v.instancePath, ...issue.path.map(String)].join('/').replace(/\/+/g, '/'),
      message: issue.message,
      ...(issue.code ? { keyword: issue.code } : {}),
      ...(issue.errors ? { params: { errors: issue.errors } } : {}),
    }),
  );
}

/** Every error leaves as RFC 9457 application/problem+json, naming the field at fault when there is one. */
export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    let status: number;
    let detail = error.message;
    let field: string | undefined;
    let errors: { field: string; message: string }[] | undefined;
    let extra: Partial<Problem> = {};
    if (hasZodFastifySchemaValidationErrors(error)) {
      status = 400;
      const where = error.validationContext ?? 'body';
      errors = error.validation
        .flatMap(unwrapUnion)
        .slice(0, 20)
        .map((v) => {
          const path = clip(v.instancePath.replace(/^\//, '').replaceAll('/', '.'));
          return {
            field: path ? (where === 'body' ? path : `${where}.${path}`) : where,
            // Messages such as "Unrecognized key: …" repeat what was sent.
            message: clip(v.message ?? 'invalid'),
          };
        });
      field = errors[0]?.field;
      detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    } else if (error instanceof DomainError) {
      status = statusOf(error);
      field = error.field;
      if (error instanceof RequestRefused) {
        extra = {
          ...(error.requestId ? { request: error.requestId } : {}),
          decision: decisionOf(error.decision),
        };
      }
      if (error instanceof OtpRefused) extra = { type: `https://elevate.dev/problems/${error.reason}` };
      if (status === 401) void reply.header('www-authenticate', 'Bearer');
    } else if (
      'statusCode' in error &&
      error.statusCode &&
      error.statusCode >= 400 &&
      error.statusCode < 500
    ) {
      status = error.statusCode;
      detail = frameworkDetail(error as FastifyError);
    } else {
      status = 500;
      request.log.error({ err: error }, 'unhandled error');
      detail = 'internal error';
    }
    if (status >= 500 && status !== 500) request.log.warn({ err: error }, 'request failed');
    void reply
      .code(status)
      .type('application/problem+json')
      .send(
        problemBody(status, detail, { ...(field ? { field } : {}), ...(errors ? { errors } : {}), ...extra }),
      );
  });

  // Answered on request, before Fastify reads a body it would insist on a Content-Type for (POST, QUERY).
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return notFound(request, reply);
  });
  app.setNotFoundHandler(notFound);

  function notFound(request: FastifyRequest, reply: FastifyReply) {
    const path = request.url.split('?')[0] ?? '';
    // A path served under other methods is 405 with Allow (RFC 9110), not 404.
    const allowed = knownMethods.filter((method) => app.findRoute({ method, url: path }) !== null);
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .type('application/problem+json')
        .send(problemBody(405, `${clip(request.method, 20)} is not allowed here; use ${allowed.join(', ')}`));
    }
    return reply
      .code(404)
      .type('application/problem+json')
      .send(problemBody(404, `no route ${clip(request.method, 20)} ${clip(path, 100)}`));
  }
}

const knownMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
