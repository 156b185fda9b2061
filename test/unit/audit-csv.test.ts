import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { toCsvRow, toJsonLine } from '../../src/http/routes/audit-routes.js';

const event = (overrides: Partial<AuditEvent>): AuditEvent => ({
  seq: 7,
  time: new Date('2026-01-01T00:00:00Z'),
  actor: 'alice',
  action: 'RequestCreated',
  requestId: 'ar-1',
  cluster: 'dev',
  details: { reason: 'x' },
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  ...overrides,
});

describe('audit export', () => {
  it('writes one RFC 4180 row per event, quoting commas and quotes', () => {
    expect(toCsvRow(event({ details: { reason: 'db, "prod" down' } }))).toBe(
      `7,2026-01-01T00:00:00.000Z,alice,RequestCreated,ar-1,dev,"{""reason"":""db, \\""prod\\"" down""}",${'a'.repeat(64)},${'b'.repeat(64)}`,
    );
  });

  it('defuses cells a spreadsheet would run as a formula', () => {
    const row = toCsvRow(event({ actor: '=HYPERLINK("http://evil")', requestId: null, cluster: null }));
    expect(row.split(',')[2]).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(row).toContain(',RequestCreated,,,');
  });

  it.each([
    ['+', '+1+1', "'+1+1"],
    ['-', '-2+3', "'-2+3"],
    ['@', '@SUM(A1)', "'@SUM(A1)"],
    ['a tab', '\t=1+1', "'\t=1+1"],
    // A carriage return also needs quotes, as any line break does in RFC 4180.
    ['a carriage return', '\r=1+1', '"\'\r=1+1"'],
  ])('defuses a cell starting with %s', (_what, actor, cell) => {
    const row = toCsvRow(event({ actor }));
    expect(row.startsWith(`7,2026-01-01T00:00:00.000Z,${cell},RequestCreated,`)).toBe(true);
  });

  it('leaves cells that merely contain those characters alone', () => {
    expect(toCsvRow(event({ actor: 'svc-account+1@corp' })).split(',')[2]).toBe('svc-account+1@corp');
  });

  it('keeps newlines inside a quoted cell', () => {
    expect(toCsvRow(event({ actor: 'a\nb' }))).toContain('"a\nb"');
  });

  it('writes JSON lines with ISO times', () => {
    expect(JSON.parse(toJsonLine(event({})))).toMatchObject({
      seq: 7,
      time: '2026-01-01T00:00:00.000Z',
      actor: 'alice',
    });
  });
});
