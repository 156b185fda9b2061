import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import { clusterNamesMarker } from './request-fields.js';
import { problem } from './resources.js';

const problemDescriptions = {
  400: 'Malformed request: `field` names the part at fault, `errors` lists every one',
  401: 'No bearer token, or one that is not valid',
  403: 'The caller may not do this, or the configuration (guardrails, limits, policy) does not allow it',
  404: 'No such access request visible to the caller, or the cluster lacks the namespace or role named',
  409: 'The request is not in a phase that allows this',
  413: 'The body is larger than 64 KiB',
  415: 'The body is not JSON in UTF-8',
  429: 'Too many failed authentications from this address: wait Retry-After seconds',
  502: 'The cluster refused a call Elevate made for good',
  503: 'A cluster (or the server holding the lease) could not be reached; try again',
} as const;
export type ProblemStatus = keyof typeof problemDescriptions;

/** Response entries for route schemas: each status answered as application/problem+json. */
export function problems(...statuses: ProblemStatus[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: problemDescriptions[status],
        content: { 'application/problem+json': { schema: problem } },
      },
    ]),
  );
}

/** What every route behind a bearer token can answer besides its own outcomes. */
export const authProblems = [400, 401, 429] as const;
/** What every route with a JSON body can answer besides those. */
export const bodyProblems = [413, 415] as const;

/** Headers that always come with a status, whichever route answers it. */
const headersByStatus: Record<string, OpenAPIV3_1.ResponseObject['headers']> = {
  '401': {
    'WWW-Authenticate': { required: true, schema: { type: 'string', enum: ['Bearer'] } },
  },
  '429': {
    'Retry-After': {
      required: true,
      description: 'Seconds until this address may try again',
      schema: { type: 'string', pattern: '^[0-9]+$' },
    },
  },
};

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Registers @fastify/swagger over the zod schemas and returns the document getter. The document is
 * completed where the generator cannot express it: response headers, and request bodies that may be left
 * out (it marks every body required), and the clusters a request may name as they are when it is served.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  info: { version: string; clusterNames: () => string[] },
) {
  const optionalBodies = new Set<string>();
  app.addHook('onRoute', (route) => {
    const body = route.schema?.body as { safeParse?: (v: unknown) => { success: boolean } } | undefined;
    if (body?.safeParse?.(undefined).success) {
      for (const method of [route.method].flat()) {
        optionalBodies.add(`${method.toLowerCase()} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
      }
    }
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Elevate API',
        version: info.version,
        description:
          'Just-in-time privileged access for Kubernetes. Errors are RFC 9457 application/problem+json. ' +
          'A method a path does not support is answered 405 with Allow.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  let completed: OpenAPIV3_1.Document | undefined;
  let served: { names: string; doc: OpenAPIV3_1.Document } | undefined;
  return (): OpenAPIV3_1.Document => {
    completed ??= complete();
    const names = info.clusterNames();
    if (served?.names !== names.join(',')) {
      served = { names: names.join(','), doc: withClusterNames(completed, names) };
    }
    return served.doc;
  };

  function complete(): OpenAPIV3_1.Document {
    const doc = structuredClone(app.swagger()) as OpenAPIV3_1.Document;
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of methods) {
        const operation = item?.[method];
        if (!operation) continue;
        // The global requirement holds already; saying it on each operation makes the document explicit.
        operation.security ??= [{ bearer: [] }];
        if (operation.requestBody && optionalBodies.has(`${method} ${path}`)) {
          (operation.requestBody as OpenAPIV3_1.RequestBodyObject).required = false;
        }
        for (const [status, response] of Object.entries(operation.responses ?? {})) {
          const headers = headersByStatus[status];
          if (headers) (response as OpenAPIV3_1.ResponseObject).headers = headers;
        }
      }
    }
    return doc;
  }
}

/** The document with each cluster-name schema listing the names given. */
function withClusterNames(doc: OpenAPIV3_1.Document, names: string[]): OpenAPIV3_1.Document {
  const fill = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(fill);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node).filter(([key]) => key !== clusterNamesMarker);
    const out: Record<string, unknown> = Object.fromEntries(entries.map(([k, v]) => [k, fill(v)]));
    if (clusterNamesMarker in node) out.enum = [...names];
    return out;
  };
  return fill(doc) as OpenAPIV3_1.Document;
}
