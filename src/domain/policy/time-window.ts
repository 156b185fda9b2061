/**
 * `when` windows, judged in the zone's own wall-clock time (Intl, the IANA database Node ships), so
 * "Mon-Fri 09:00-18:00 Europe/Berlin" follows Berlin through its DST changes without any offset arithmetic.
 *
 * Hours that wrap midnight ("22:00-06:00") belong to the day they start on, like a night shift: with
 * days [Fri] the window runs Friday 22:00 to Saturday 06:00, so Saturday 03:00 is inside and Friday 03:00
 * (the tail of Thursday's shift) is not. Minutes are the resolution: the end is exclusive.
 */
import type { TimeWindow } from './types.js';

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const DAY_INDEX = new Map<string, number>(DAY_NAMES.map((d, i) => [d, i]));

export interface CompiledWindow {
  timezone: string;
  /** Bit i set: day i (0 = Monday) is in. */
  days: number;
  /** Minutes after local midnight; start === -1 means all day. */
  start: number;
  end: number;
  /** Days and hours as written, for explanations: "Mon-Fri 09:00-18:00" (the zone is said beside it). */
  text: string;
  /** Set when the window is malformed (the loader refuses those; the engine then never matches it). */
  invalid: string | null;
}

/** The moment in the zone's local time: day 0 = Monday, minute of the day. */
export interface LocalTime {
  day: number;
  minute: number;
  /** "Sat 10:00", for trace reasons. */
  text: string;
}

function parseDays(days: readonly string[]): number | string {
  let mask = 0;
  for (const d of days) {
    const [from, to, extra] = d.split('-');
    const a = DAY_INDEX.get(from ?? '');
    const b = to === undefined ? a : DAY_INDEX.get(to);
    if (a === undefined || b === undefined || extra !== undefined) {
      return `day "${d}" is not one of ${DAY_NAMES.join(', ')} or a range of them like Mon-Fri`;
    }
    // Ranges may wrap the week: Fri-Mon is Fri, Sat, Sun, Mon.
    for (let i = a; ; i = (i + 1) % 7) {
      mask |= 1 << i;
      if (i === b) break;
    }
  }
  return mask;
}

const HOURS = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/;

function parseHours(hours: string): [number, number] | string {
  const m = HOURS.exec(hours);
  const bad = `hours "${hours}" must be "HH:MM-HH:MM" in 24-hour time, e.g. "09:00-18:00"`;
  if (!m) return bad;
  const [sh, sm, eh, em] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (sh > 23 || sm > 59 || em > 59 || eh > 24 || (eh === 24 && em !== 0)) return bad;
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (start === end)
    return `hours "${hours}" start and end at the same time; leave hours out for the whole day`;
  return [start, end];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** A config check for the loader: null when the window is usable, else what is wrong with it. */
export function checkTimeWindow(window: TimeWindow): string | null {
  try {
    formatter(window.timezone);
  } catch {
    return `unknown time zone "${window.timezone}" (an IANA name such as Europe/Berlin)`;
  }
  if (window.days !== undefined) {
    if (window.days.length === 0) return 'days is empty: leave it out to mean every day';
    const days = parseDays(window.days);
    if (typeof days === 'string') return days;
  }
  if (window.hours !== undefined) {
    const hours = parseHours(window.hours);
    if (typeof hours === 'string') return hours;
  }
  return null;
}

export function compileWindow(window: TimeWindow): CompiledWindow {
  const text = [window.days?.join(','), window.hours].filter(Boolean).join(' ') || 'every day';
  const invalid = checkTimeWindow(window);
  const days = window.days && invalid === null ? (parseDays(window.days) as number) : 0x7f;
  const hours: [number, number] =
    window.hours && invalid === null ? (parseHours(window.hours) as [number, number]) : [-1, -1];
  return { timezone: window.timezone, days, start: hours[0], end: hours[1], text, invalid };
}

// Intl formatting costs a few microseconds; a decision judges every policy at the same instant, so the
// last answer per zone is kept and reused while the minute is the same.
const lastLocal = new Map<string, { epochMinute: number; local: LocalTime }>();

/** The moment in the zone's wall-clock time (whole minutes; zones with second offsets are historical). */
export function localTime(timezone: string, now: Date): LocalTime {
  const epochMinute = Math.floor(now.getTime() / 60_000);
  const hit = lastLocal.get(timezone);
  if (hit !== undefined && hit.epochMinute === epochMinute) return hit.local;
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const p of formatter(timezone).formatToParts(now)) {
    if (p.type === 'weekday') day = DAY_INDEX.get(p.value) ?? 0;
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  const hh = String(hour).padStart(2, '0');
  const mm = String(minute).padStart(2, '0');
  const local = { day, minute: hour * 60 + minute, text: `${DAY_NAMES[day]} ${hh}:${mm}` };
  lastLocal.set(timezone, { epochMinute, local });
  return local;
}

export function inCompiledWindow(w: CompiledWindow, now: Date): boolean {
  if (w.invalid !== null) return false;
  const { day, minute } = localTime(w.timezone, now);
  // Plain bit tests, no helper closure: this runs for every policy with a window on every request.
  if (w.start === -1) return (w.days & (1 << day)) !== 0;
  if (w.start < w.end) return (w.days & (1 << day)) !== 0 && minute >= w.start && minute < w.end;
  // Wrapping midnight: the evening part belongs to today, the early morning to yesterday's window.
  if (minute >= w.start) return (w.days & (1 << day)) !== 0;
  return minute < w.end && (w.days & (1 << ((day + 6) % 7))) !== 0;
}

const compiled = new WeakMap<TimeWindow, CompiledWindow>();

export function inWindow(window: TimeWindow, now: Date): boolean {
  let w = compiled.get(window);
  if (w === undefined) {
    w = compileWindow(window);
    compiled.set(window, w);
  }
  return inCompiledWindow(w, now);
}
