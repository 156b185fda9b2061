import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  Conflict,
  DomainError,
  Forbidden,
  Invalid,
  NotFound,
  Refused,
  Unauthenticated,
  Unavailable,
} from '../domain/errors.js';

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
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Every error leaves as RFC 9457 application/problem+json, naming the field at fault when there is one. */
export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    let status: number;
    let detail = error.message;
    let field: string | undefined;
    let errors: { field: string; message: string }[] | undefined;
    if (hasZodFastifySchemaValidationErrors(error)) {
      status = 400;
      const where = error.validationContext ?? 'body';
      errors = error.validation.map((v) => {
        const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return {
          field: path ? (where === 'body' ? path : `${where}.${path}`) : where,
          message: v.message ?? 'invalid',
        };
      });
      field = errors[0]?.field;
      detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    } else if (error instanceof DomainError) {
      status = statusOf(error);
      field = error.field;
      if (status === 401) void reply.header('www-authenticate', 'Bearer');
    } else if (
      'statusCode' in error &&
      error.statusCode &&
      error.statusCode >= 400 &&
      error.statusCode < 500
    ) {
      status = error.statusCode;
    } else {
      status = 500;
      request.log.error({ err: error }, 'unhandled error');
      detail = 'internal error';
    }
    if (status >= 500 && status !== 500) request.log.warn({ err: error }, 'request failed');
    void reply
      .code(status)
      .type('application/problem+json')
      .send({
        type: `https://elevate.dev/problems/${(titles[status] ?? 'error').toLowerCase().replaceAll(' ', '-')}`,
        title: titles[status] ?? 'Error',
        status,
        detail,
        ...(field ? { field } : {}),
        ...(errors ? { errors } : {}),
      });
  });

  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .type('application/problem+json')
      .send({
        type: 'https://elevate.dev/problems/not-found',
        title: 'Not Found',
        status: 404,
        detail: `no route ${request.method} ${request.url}`,
      });
  });
}
