import { describe, expect, it } from 'vitest';
import { checkTimeWindow, inWindow, localTime } from '../../../src/domain/policy/time-window.js';
import type { TimeWindow } from '../../../src/domain/policy/types.js';

const berlinOffice: TimeWindow = { timezone: 'Europe/Berlin', days: ['Mon-Fri'], hours: '09:00-18:00' };
const nyOffice: TimeWindow = { timezone: 'America/New_York', days: ['Mon-Fri'], hours: '09:00-17:00' };
const fridayNight: TimeWindow = { timezone: 'UTC', days: ['Fri'], hours: '22:00-06:00' };

describe('inWindow', () => {
  it.each<[string, TimeWindow, string, boolean]>([
    // Europe/Berlin, winter time (UTC+1)
    ['Berlin Fri 08:59 CET', berlinOffice, '2026-03-27T07:59:00Z', false],
    ['Berlin Fri 09:00 CET', berlinOffice, '2026-03-27T08:00:00Z', true],
    ['Berlin Fri 17:59 CET', berlinOffice, '2026-03-27T16:59:00Z', true],
    ['Berlin Fri 18:00 CET: end exclusive', berlinOffice, '2026-03-27T17:00:00Z', false],
    ['Berlin Sat 10:00', berlinOffice, '2026-03-28T09:00:00Z', false],
    // After the spring change on 2026-03-29 (UTC+2): 09:00 local is 07:00 UTC
    ['Berlin Mon 09:00 CEST', berlinOffice, '2026-03-30T07:00:00Z', true],
    ['Berlin Mon 08:59 CEST', berlinOffice, '2026-03-30T06:59:00Z', false],
    ['Berlin Mon 17:00 UTC is 19:00 CEST', berlinOffice, '2026-03-30T17:00:00Z', false],
    // Around the autumn change on 2026-10-25 (back to UTC+1)
    ['Berlin Fri 09:00 CEST', berlinOffice, '2026-10-23T07:00:00Z', true],
    ['Berlin Mon 07:00 UTC is 08:00 CET', berlinOffice, '2026-10-26T07:00:00Z', false],
    ['Berlin Mon 09:00 CET', berlinOffice, '2026-10-26T08:00:00Z', true],
    ['Berlin Mon 17:30 UTC is 18:30 CET', berlinOffice, '2026-10-26T17:30:00Z', false],
    // America/New_York: EST (UTC-5) until 2026-03-08, EDT (UTC-4) until 2026-11-01
    ['New York Fri 08:59 EST', nyOffice, '2026-03-06T13:59:00Z', false],
    ['New York Fri 09:00 EST', nyOffice, '2026-03-06T14:00:00Z', true],
    ['New York Mon 09:00 EDT', nyOffice, '2026-03-09T13:00:00Z', true],
    ['New York Mon 08:59 EDT', nyOffice, '2026-03-09T12:59:00Z', false],
    ['New York Fri 16:59 EDT', nyOffice, '2026-10-30T20:59:00Z', true],
    ['New York Mon 13:00 UTC is 08:00 EST', nyOffice, '2026-11-02T13:00:00Z', false],
    ['New York Mon 14:00 UTC is 09:00 EST', nyOffice, '2026-11-02T14:00:00Z', true],
    // Hours wrapping midnight belong to the day they start on
    ['Fri 21:59 before the shift', fridayNight, '2026-05-08T21:59:00Z', false],
    ['Fri 22:00 shift starts', fridayNight, '2026-05-08T22:00:00Z', true],
    ['Fri 23:59', fridayNight, '2026-05-08T23:59:00Z', true],
    ['Sat 00:00 still Friday’s shift', fridayNight, '2026-05-09T00:00:00Z', true],
    ['Sat 03:00 still Friday’s shift', fridayNight, '2026-05-09T03:00:00Z', true],
    ['Sat 05:59', fridayNight, '2026-05-09T05:59:00Z', true],
    ['Sat 06:00 shift over', fridayNight, '2026-05-09T06:00:00Z', false],
    ['Fri 03:00 is Thursday’s shift', fridayNight, '2026-05-08T03:00:00Z', false],
    ['Sat 22:00 is no shift', fridayNight, '2026-05-09T22:00:00Z', false],
    [
      'Sunday night shift runs into Monday (week wraps)',
      { timezone: 'UTC', days: ['Sun'], hours: '22:00-06:00' },
      '2026-05-11T03:00:00Z',
      true,
    ],
    // A wrapping window through the night the clocks go forward (Berlin 2026-03-29 02:00 -> 03:00)
    [
      'Berlin Sat-night shift at 01:30 CET',
      { timezone: 'Europe/Berlin', days: ['Sat'], hours: '22:00-04:00' },
      '2026-03-29T00:30:00Z',
      true,
    ],
    [
      'Berlin Sat-night shift at 03:30 CEST',
      { timezone: 'Europe/Berlin', days: ['Sat'], hours: '22:00-04:00' },
      '2026-03-29T01:30:00Z',
      true,
    ],
    [
      'Berlin Sat-night shift over at 04:00 CEST (02:00 UTC)',
      { timezone: 'Europe/Berlin', days: ['Sat'], hours: '22:00-04:00' },
      '2026-03-29T02:00:00Z',
      false,
    ],
    // The hour that does not exist, and the one that happens twice
    [
      '02:00-03:00 skipped: 01:59 CET',
      { timezone: 'Europe/Berlin', hours: '02:00-03:00' },
      '2026-03-29T00:59:00Z',
      false,
    ],
    [
      '02:00-03:00 skipped: 03:00 CEST',
      { timezone: 'Europe/Berlin', hours: '02:00-03:00' },
      '2026-03-29T01:00:00Z',
      false,
    ],
    [
      '02:30 CEST, the first time',
      { timezone: 'Europe/Berlin', hours: '02:00-03:00' },
      '2026-10-25T00:30:00Z',
      true,
    ],
    [
      '02:30 CET, the second time',
      { timezone: 'Europe/Berlin', hours: '02:00-03:00' },
      '2026-10-25T01:30:00Z',
      true,
    ],
    [
      '03:00 CET after both',
      { timezone: 'Europe/Berlin', hours: '02:00-03:00' },
      '2026-10-25T02:00:00Z',
      false,
    ],
    // Days
    ['Fri-Mon includes Sun', { timezone: 'UTC', days: ['Fri-Mon'] }, '2026-05-10T12:00:00Z', true],
    ['Fri-Mon includes Mon', { timezone: 'UTC', days: ['Fri-Mon'] }, '2026-05-11T12:00:00Z', true],
    ['Fri-Mon excludes Tue', { timezone: 'UTC', days: ['Fri-Mon'] }, '2026-05-12T12:00:00Z', false],
    ['a list of days', { timezone: 'UTC', days: ['Mon', 'Wed'] }, '2026-05-06T12:00:00Z', true],
    ['a list of days, not Tue', { timezone: 'UTC', days: ['Mon', 'Wed'] }, '2026-05-05T12:00:00Z', false],
    ['no days: every day', { timezone: 'UTC', hours: '10:00-11:00' }, '2026-05-09T10:30:00Z', true],
    ['no hours: the whole day', { timezone: 'UTC', days: ['Sat'] }, '2026-05-09T23:59:00Z', true],
    ['end 24:00 includes 23:59', { timezone: 'UTC', hours: '18:00-24:00' }, '2026-05-09T23:59:00Z', true],
    ['end 24:00 excludes 00:00', { timezone: 'UTC', hours: '18:00-24:00' }, '2026-05-10T00:00:00Z', false],
    // The weekday is the zone's, not UTC's: Mon 01:00 in Tokyo is Sun 16:00 UTC
    [
      'Tokyo Monday while UTC is Sunday',
      { timezone: 'Asia/Tokyo', days: ['Mon'] },
      '2026-05-10T16:00:00Z',
      true,
    ],
    [
      'Kolkata half-hour offset',
      { timezone: 'Asia/Kolkata', hours: '09:00-09:30' },
      '2026-05-06T03:30:00Z',
      true,
    ],
    [
      'Kolkata 09:30 end exclusive',
      { timezone: 'Asia/Kolkata', hours: '09:00-09:30' },
      '2026-05-06T04:00:00Z',
      false,
    ],
  ])('%s', (_name, window, at, expected) => {
    expect(inWindow(window, new Date(at))).toBe(expected);
  });

  it('never matches a malformed window', () => {
    expect(inWindow({ timezone: 'Nowhere/Land' }, new Date('2026-05-06T12:00:00Z'))).toBe(false);
    expect(inWindow({ timezone: 'UTC', days: ['Funday'] }, new Date('2026-05-06T12:00:00Z'))).toBe(false);
  });

  it('gives the local time it judged, for the trace', () => {
    expect(localTime('Europe/Berlin', new Date('2026-03-29T01:30:00Z')).text).toBe('Sun 03:30');
    expect(localTime('America/New_York', new Date('2026-11-01T05:30:00Z')).text).toBe('Sun 01:30');
    expect(localTime('America/New_York', new Date('2026-11-01T06:30:00Z')).text).toBe('Sun 01:30');
    expect(localTime('UTC', new Date('2026-05-09T00:00:00Z')).text).toBe('Sat 00:00');
  });
});

describe('checkTimeWindow', () => {
  it.each<[TimeWindow, string | null]>([
    [{ timezone: 'Europe/Berlin', days: ['Mon-Fri', 'Sun'], hours: '22:00-06:00' }, null],
    [{ timezone: 'UTC', hours: '00:00-24:00' }, null],
    [
      { timezone: 'Europe/Berlinn' },
      'unknown time zone "Europe/Berlinn" (an IANA name such as Europe/Berlin)',
    ],
    [
      { timezone: 'UTC', days: ['Monday'] },
      'day "Monday" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun or a range of them like Mon-Fri',
    ],
    [
      { timezone: 'UTC', days: ['mon'] },
      'day "mon" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun or a range of them like Mon-Fri',
    ],
    [
      { timezone: 'UTC', days: ['Mon-Fri-Sat'] },
      'day "Mon-Fri-Sat" is not one of Mon, Tue, Wed, Thu, Fri, Sat, Sun or a range of them like Mon-Fri',
    ],
    [{ timezone: 'UTC', days: [] }, 'days is empty: leave it out to mean every day'],
    [
      { timezone: 'UTC', hours: '9:00-18:00' },
      'hours "9:00-18:00" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"',
    ],
    [
      { timezone: 'UTC', hours: '09:00-25:00' },
      'hours "09:00-25:00" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"',
    ],
    [
      { timezone: 'UTC', hours: '09:60-10:00' },
      'hours "09:60-10:00" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"',
    ],
    [
      { timezone: 'UTC', hours: '24:00-01:00' },
      'hours "24:00-01:00" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"',
    ],
    [
      { timezone: 'UTC', hours: '09:00' },
      'hours "09:00" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"',
    ],
    [
      { timezone: 'UTC', hours: '09:00-09:00' },
      'hours "09:00-09:00" start and end at the same time; leave hours out for the whole day',
    ],
  ])('%j -> %s', (window, expected) => {
    expect(checkTimeWindow(window)).toBe(expected);
  });
});
