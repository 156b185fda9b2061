import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFor, type RunningElevate, startElevate } from '../support/elevate.js';
import { elevateKubeconfig } from '../support/kube.js';

// biome-ignore lint/suspicious/noExplicitAny: the document is checked by the assertions below
type Json = any;

let server: RunningElevate;
let doc: Json;

beforeAll(async () => {
  server = await startElevate({ clusters: { dev: elevateKubeconfig('dev') } });
  doc = (await apiFor(server.url, null).get('/openapi.json')).body;
});

afterAll(async () => {
  await server?.stop();
});

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
const publicPaths = ['/healthz', '/readyz', '/openapi.json', '/api/v1/auth/config'];
/** Authenticated by a signature over the body (ticket systems' callbacks), not by a bearer token. */
const signedPaths = ['/api/v1/tickets/events', '/api/v1/notifications/slack/interactions'];

describe('the OpenAPI document describes every operation completely', () => {
  it('errors are application/problem+json with field and errors', () => {
    expect(doc.components.schemas.Problem.properties).toHaveProperty('field');
    expect(doc.components.schemas.Problem.properties).toHaveProperty('errors');
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (Number(status) < 400 || path === '/readyz') continue;
        expect(Object.keys(response.content), `${method} ${path} ${status}`).toEqual([
          'application/problem+json',
        ]);
      }
    }
  });

  it('protected operations declare bearer security and 401 (with WWW-Authenticate), 400 and 429 (with Retry-After)', () => {
    for (const { path, method, op } of operations()) {
      if (publicPaths.includes(path)) {
        expect(op.security, path).toEqual([]);
        continue;
      }
      expect(op.security, `${method} ${path}`).toEqual(signedPaths.includes(path) ? [] : [{ bearer: [] }]);
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
        expect.arrayContaining(['400', '401', '429']),
      );
      expect(op.responses['401'].headers['WWW-Authenticate'].required).toBe(true);
      expect(op.responses['429'].headers['Retry-After'].required).toBe(true);
    }
  });

  it('operations with a body declare 413 and 415; approve, deny, revoke and cancel bodies are optional', () => {
    for (const { path, method, op } of operations()) {
      if (!op.requestBody) continue;
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
      const required = [
        '/api/v1/accessrequests',
        '/api/v1/accessrequests/{name}/extend',
        '/api/v1/mfa/confirm',
        '/api/v1/apitokens',
        '/api/v1/tickets/events',
        '/api/v1/breakglass',
        '/api/v1/breakglass/mode',
        '/api/v1/reviews/{id}/complete',
        '/apis/system.k8smgmt.io/v3/breakglassaccess',
        '/api/v1/activity/kube-audit/{cluster}',
        '/api/v1/authorize/{cluster}',
        '/api/v1/notifications/slack/interactions',
      ].includes(path);
      expect(op.requestBody.required, `${method} ${path}`).toBe(required);
    }
  });

  it('the statuses each route can answer are there: 403, 404, 409, 502, 503 where they happen', () => {
    const responses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(responses('/api/v1/accessrequests', 'post')).toEqual(
      expect.arrayContaining(['201', '403', '404', '502', '503']),
    );
    expect(responses('/api/v1/accessrequests/{name}/approve', 'post')).toEqual(
      expect.arrayContaining(['200', '403', '404', '409']),
    );
    expect(responses('/api/v1/whoami', 'get')).toEqual(['200', '400', '401', '429']);
    expect(responses('/readyz', 'get')).toEqual(['200', '503']);
  });

  it('a request and an approval take an optional one-time code in the Elevate-OTP header (6 digits)', () => {
    for (const path of ['/api/v1/accessrequests', '/api/v1/accessrequests/{name}/approve']) {
      const header = doc.paths[path].post.parameters.find((p: Json) => p.in === 'header');
      expect(header, path).toMatchObject({
        name: 'elevate-otp',
        required: false,
        schema: { type: 'string', pattern: '^[0-9]{6}$' },
      });
    }
  });

  it('every operation has an operationId, and a created request links to what can be done with it', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const links = doc.paths['/api/v1/accessrequests'].post.responses['201'].links;
    expect(Object.values<Json>(links).map((l) => l.operationId)).toEqual(
      expect.arrayContaining(['getAccessRequest', 'approveAccessRequest', 'revokeAccessRequest']),
    );
    expect(links.get.parameters).toEqual({ name: '$response.body#/metadata/name' });
  });

  it('the audit export is text/csv or application/x-ndjson', () => {
    const ok = doc.paths['/api/v1/audit/export'].get.responses['200'];
    expect(Object.keys(ok.content)).toEqual(['text/csv', 'application/x-ndjson']);
  });

  it('says what the server enforces: clusters, duration pattern and bounds, name patterns and lengths, text limits', () => {
    const spec =
      doc.paths['/api/v1/accessrequests'].post.requestBody.content['application/json'].schema.properties.spec;
    // One target with the grant's fields beside it, several targets, or a profile.
    const [oneTarget, several, profile] = spec.anyOf;
    const [namespaced, clusterWide] = oneTarget.oneOf;
    expect(several.properties.targets).toMatchObject({ minItems: 1, maxItems: 50 });
    expect(several.required).toEqual(expect.arrayContaining(['targets', 'reason']));
    expect(profile.properties.profile).toMatchObject({ maxLength: 63, pattern: expect.any(String) });
    expect(profile.additionalProperties).toBe(false);
    expect(namespaced.properties.cluster.enum).toEqual(['dev']);
    expect(namespaced.properties.duration).toMatchObject({ maxLength: 64, pattern: expect.any(String) });
    expect(namespaced.properties.duration.description).toMatch(/at least 1s and at most 168h/);
    expect(namespaced.properties.namespace).toMatchObject({
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    });
    expect(namespaced.properties.role).toMatchObject({
      minLength: 1,
      maxLength: 253,
      pattern: expect.any(String),
    });
    // No control characters, and something besides blanks: two patterns, both must hold.
    const patterns = (schema: Json) => (schema.allOf ?? []).map((s: Json) => s.pattern);
    expect(namespaced.properties.reason.maxLength).toBe(2000);
    expect(patterns(namespaced.properties.reason)).toHaveLength(2);
    expect(namespaced.properties.ticket.maxLength).toBe(200);
    expect(patterns(namespaced.properties.ticket)).toHaveLength(2);
    expect(namespaced.required).toEqual(expect.arrayContaining(['cluster', 'role', 'namespace', 'reason']));
    // Left out, the duration is the deciding policy's default.
    expect(namespaced.required).not.toContain('duration');
    expect(clusterWide.properties.clusterWide.enum).toEqual([true]);
    expect(clusterWide.properties).not.toHaveProperty('namespace');
    expect(clusterWide.additionalProperties).toBe(false);
    const name = doc.paths['/api/v1/accessrequests/{name}'].get.parameters.find(
      (p: Json) => p.name === 'name',
    );
    expect(name.schema).toMatchObject({ maxLength: 63, pattern: '^ar-[a-z0-9]{1,60}$' });
  });
});
