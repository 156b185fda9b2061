import { InvalidArgumentError } from 'commander';
import { parsePositiveDuration } from '../domain/duration.js';

/** Parsers for option values shared by the commands; a bad value is a usage error naming what is expected. */

/** A Go-style duration ("30m", "1h30m"), checked here and passed on as written. */
export function durationArg(value: string): string {
  const ms = parsePositiveDuration(value);
  if (typeof ms === 'string') throw new InvalidArgumentError(ms);
  return value;
}

/** A comma-separated list, blanks dropped: `--namespace a,b`. */
export function listArg(value: string): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('give at least one name');
  return items;
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time with Z or an offset, as the API takes it, passed on as written. */
export function timeArg(value: string): string {
  if (!rfc3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(
      `"${value}" is not an RFC 3339 time with Z or an offset (e.g. 2026-03-01T09:00:00+01:00)`,
    );
  }
  return value;
}
