import { randomBytes } from 'node:crypto';

const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Request ids are DNS-label safe so they can name Kubernetes objects. */
export function newRequestId(): string {
  const bytes = randomBytes(10);
  return `ar-${Array.from(bytes, (b) => idAlphabet[b % idAlphabet.length]).join('')}`;
}

/** Review ids, shaped like request ids: `rv-…`. */
export function newReviewId(): string {
  const bytes = randomBytes(10);
  return `rv-${Array.from(bytes, (b) => idAlphabet[b % idAlphabet.length]).join('')}`;
}
