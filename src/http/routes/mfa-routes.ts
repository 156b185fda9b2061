import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { MfaService, MfaStatus } from '../../services/mfa-service.js';
import { authProblems, bodyProblems, problems } from '../openapi.js';
import { identityOf } from './authenticate.js';

type MfaApi = Pick<MfaService, 'enroll' | 'confirm' | 'status' | 'reset'>;

// [0-9], not \d: a JSON Schema \d may match any Unicode digit in other tools (schemathesis, Python).
const code = z.string().regex(/^[0-9]{6}$/, 'a one-time code is 6 digits');

/**
 * The Elevate-OTP header: a fresh code for a policy that requires MFA (with a request or an approval).
 * Loose: the other headers pass through as they are. Fastify sees header names in lower case.
 */
export const otpHeaders = z.looseObject({
  'elevate-otp': code
    .optional()
    .describe(
      'A fresh one-time code (TOTP, 6 digits) when the deciding policy requires MFA; used once. Without it ' +
        'such a request or approval is 403 with type …/otp-required (or …/mfa-enrolment-required)',
    ),
});

/** The code from the Elevate-OTP header, as an optional input field. */
export const otpOf = (headers: { 'elevate-otp'?: string | undefined }) =>
  headers['elevate-otp'] === undefined ? {} : { otp: headers['elevate-otp'] };

const status = z.object({
  user: z.string(),
  enrolled: z.boolean(),
  confirmed: z.boolean().describe('A first code was accepted: policies requiring MFA take codes from now on'),
  lockedUntil: z.string().nullable().describe('Set while five wrong codes in a row lock every attempt'),
});

const statusView = (s: MfaStatus) => ({ ...s, lockedUntil: s.lockedUntil?.toISOString() ?? null });

// 409 also when the server has no secrets.keyFile (MFA not configured).
const enrollBody = z
  .strictObject({
    code: code.optional().describe('A current code: required to enrol again while an enrolment is confirmed'),
  })
  .nullish();

/** TOTP enrolment of the caller, and an admin's reset of someone's. */
export function mfaRoutes(mfa: MfaApi): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/mfa/enroll',
      {
        schema: {
          summary:
            "Start the caller's TOTP enrolment: a new secret, shown once as an otpauth:// URI; confirm it with a first code",
          operationId: 'enrollMfa',
          tags: ['MFA'],
          body: enrollBody,
          response: {
            201: z.object({
              uri: z.string().describe('otpauth://totp/Elevate:USER?secret=…&issuer=Elevate (for a QR code)'),
              secret: z.string().describe('The same secret in base32, for typing into an app'),
            }),
            ...problems(...authProblems, 403, 409, ...bodyProblems),
          },
        },
      },
      async (req, reply) => reply.code(201).send(await mfa.enroll(identityOf(req), req.body?.code)),
    );

    app.post(
      '/mfa/confirm',
      {
        schema: {
          summary: "Activate the caller's enrolment with a first code from the device",
          operationId: 'confirmMfa',
          tags: ['MFA'],
          body: z.strictObject({ code }),
          response: { 200: status, ...problems(...authProblems, 403, 404, 409, ...bodyProblems) },
        },
      },
      async (req) => statusView(await mfa.confirm(identityOf(req), req.body.code)),
    );

    app.get(
      '/mfa',
      {
        schema: {
          summary: "The caller's enrolment: enrolled, confirmed, locked until",
          operationId: 'getMfa',
          tags: ['MFA'],
          response: { 200: status, ...problems(...authProblems, 409) },
        },
      },
      async (req) => statusView(await mfa.status(identityOf(req))),
    );

    app.delete(
      '/mfa/users/:user',
      {
        schema: {
          summary: "Forget a user's enrolment, e.g. after a lost device (admins); audited",
          operationId: 'resetMfa',
          tags: ['MFA'],
          params: z.strictObject({
            user: z
              .string()
              .min(1)
              .max(100)
              .regex(/^[\x21-\x7e]+$/),
          }),
          response: { 204: z.null().describe('Reset'), ...problems(...authProblems, 403, 404, 409) },
        },
      },
      async (req, reply) => {
        await mfa.reset(identityOf(req), req.params.user);
        return reply.code(204).send(null);
      },
    );
  };
}
