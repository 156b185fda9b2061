import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';

/**
 * The fields a caller writes, with every rule the server enforces spelled out as JSON Schema (pattern,
 * lengths), so the OpenAPI document tells clients exactly what is accepted.
 */

// Refused in free text: C0 and C1 controls (NUL, ESC, newlines: text lands in binding annotations, logs and
// CSV cells), the bidi marks, embeddings, overrides and isolates that make text read other than it is stored
// (Trojan Source), and line/paragraph separators. Written as \u escapes without the `u`-only syntax so JSON
// Schema validators in other languages read the pattern alike. Lone surrogates (not text at all) are refused
// by a check of their own: many regex engines cannot express them.
const forbidden = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069';
// Whitespace that String.prototype.trim removes, besides the controls above.
const blank = ' \\u00a0\\u1680\\u2000-\\u200a\\u205f\\u3000\\ufeff';
const noControls = new RegExp(`^[^${forbidden}]*$`, 'u');
const someText = new RegExp(`^[^${forbidden}]*[^${forbidden}${blank}][^${forbidden}]*$`, 'u');
const controlsMessage = 'must not contain control characters, bidi overrides or line breaks';

/** One line of human text: no control characters; `required` also asks for something besides blanks. */
export function plainText(max: number, opts: { required?: boolean; what?: string } = {}) {
  const text = z
    .string()
    .max(max)
    .refine((s) => s.isWellFormed(), 'must be valid Unicode (no lone surrogates)')
    .regex(noControls, controlsMessage);
  return opts.required ? text.regex(someText, `${opts.what ?? 'text'} is required`).trim() : text;
}

/** A namespace name, as the API server validates it: a DNS-1123 label. */
export const namespaceName = z
  .string({
    error: (issue) => (issue.input === undefined ? 'give a namespace, or clusterWide: true' : undefined),
  })
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name (a DNS-1123 label: a-z, 0-9, -)');

/**
 * A Role or ClusterRole name, as the API server accepts it (ValidateRBACName = IsPathSegmentName): not "."
 * or "..", no "/" or "%". Kubernetes sets no length limit for these; 253 is the bound of every other
 * object name, and control characters are refused as in all text Elevate stores.
 */
const roleChar = `[^/%${forbidden}]`;
export const roleName = z
  .string()
  .min(1)
  .max(253)
  .refine((s) => s.isWellFormed(), 'must be valid Unicode (no lone surrogates)')
  .regex(
    new RegExp(`^(?:[^./%${forbidden}]|\\.[^./%${forbidden}]|\\.\\.${roleChar})${roleChar}*$`, 'u'),
    'must be a role name the API server accepts: not "." or "..", no "/", "%" or control characters',
  );

/** Ids Elevate issues are `ar-` and 20 of [a-z0-9] (newRequestId); anything else cannot name a request. */
export const requestId = z
  .string()
  .max(63)
  .regex(/^ar-[a-z0-9]{1,60}$/, 'must be an access request name (ar-…)');

/** Whole units only up to 9 digits each: checked before any arithmetic, so no value overflows or rounds. */
const durationPattern = /^(?:[0-9]{1,9}(?:\.[0-9]{1,9})?(?:ns|us|µs|ms|s|m|h)){1,7}$/;

/** A Go duration read as milliseconds, described as given; bounds are the service's to check. */
export function goDuration(description: string) {
  return z
    .string()
    .max(64)
    .regex(durationPattern, 'must be a Go duration such as 90s, 30m or 1h30m')
    .describe(description)
    .transform((text) => parseDuration(text) as number);
}

/** A Go duration as the API takes it, read as milliseconds; the configured bounds are checked by the service. */
export function durationField(limits: { min: string; max: string }) {
  return z
    .string()
    .max(64)
    .regex(durationPattern, 'must be a Go duration such as 90s, 30m or 1h30m')
    .describe(
      `How long access lasts once active, Go style (90s, 30m, 1h30m): at least ${limits.min} and at most ` +
        `${limits.max} (limits.minDuration/maxDuration), and no more than the matching policy's maxDuration; ` +
        'a duration outside those bounds is refused with 403.',
    )
    .transform((text) => parseDuration(text) as number);
}

/** Marks the schema of a cluster name in the OpenAPI document, where the names known then are filled in. */
export const clusterNamesMarker = 'x-elevate-cluster-names';

/**
 * A cluster Elevate manages. The names change while it runs (cluster Secrets), so they are checked at each
 * request, and the served document lists them as they are then (openapi.ts).
 */
export function clusterName(names: () => string[]) {
  return z
    .string()
    .refine((name) => names().includes(name), {
      error: () => `must be one of the configured clusters: ${names().join(', ')}`,
    })
    .meta({ [clusterNamesMarker]: true });
}
