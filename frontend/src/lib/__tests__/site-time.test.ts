// The site's zone, not the browser's: wall clocks, local midnights across DST and formatted times.
import { afterEach, describe, expect, it } from 'vitest';

import { formatTime } from '@/lib/format';
import {
  fromWallInput,
  getSiteTimeZone,
  setSiteTimeZone,
  startOfDay,
  toWallInput,
  utcOffset,
  wallClock,
} from '@/lib/site-time';

const BERLIN = 'Europe/Berlin';
const utc = (text: string) => Date.parse(`${text}Z`) / 1000;

afterEach(() => setSiteTimeZone(null));

describe('site time', () => {
  it('reads wall clocks and offsets in the zone', () => {
    expect(wallClock(utc('2026-07-01T22:30:00'), BERLIN)).toMatchObject({ day: 2, hour: 0, minute: 30 });
    expect(utcOffset(utc('2026-07-01T12:00:00'), BERLIN)).toBe(7200);
    expect(utcOffset(utc('2026-01-01T12:00:00'), BERLIN)).toBe(3600);
    expect(utcOffset(utc('2026-01-01T12:00:00'), 'Asia/Kolkata')).toBe(19_800);
  });

  it("starts the day at the site's midnight, on 23- and 25-hour DST days too", () => {
    // 00:30 in Berlin on 1 July is 22:30 UTC on 30 June
    expect(startOfDay(utc('2026-06-30T22:30:00'), BERLIN)).toBe(utc('2026-06-30T22:00:00'));
    const spring = startOfDay(utc('2026-03-29T12:00:00'), BERLIN);
    const next = startOfDay(utc('2026-03-30T12:00:00'), BERLIN);
    expect(spring).toBe(utc('2026-03-28T23:00:00'));
    expect(next - spring).toBe(23 * 3600);
    const fall = startOfDay(utc('2026-10-25T12:00:00'), BERLIN);
    expect(startOfDay(utc('2026-10-26T12:00:00'), BERLIN) - fall).toBe(25 * 3600);
    // Chile skips midnight on 6 September 2026: the day starts at 01:00
    const santiago = startOfDay(utc('2026-09-06T18:00:00'), 'America/Santiago');
    expect(wallClock(santiago, 'America/Santiago')).toMatchObject({ day: 6, hour: 1, minute: 0 });
  });

  it('round-trips datetime-local inputs in the zone; a skipped time resolves past the gap', () => {
    const t = utc('2026-10-25T00:30:00'); // 02:30 CEST, the first of the two 02:30s
    expect(toWallInput(t, BERLIN)).toBe('2026-10-25T02:30');
    expect(fromWallInput('2026-10-25T02:30', BERLIN)).toBe(t);
    expect(fromWallInput('2026-03-29T02:30', BERLIN)).toBe(utc('2026-03-29T01:30:00')); // 03:30 CEST
    expect(fromWallInput('yesterday', BERLIN)).toBeNull();
  });

  it('formats times in the site zone once the API names it', () => {
    const t = utc('2026-07-01T22:30:00');
    setSiteTimeZone('Asia/Tokyo');
    expect(getSiteTimeZone()).toBe('Asia/Tokyo');
    expect(formatTime(t)).toMatch(/07:30:00/);
    setSiteTimeZone('America/New_York');
    expect(formatTime(t)).toMatch(/18:30:00/);
    setSiteTimeZone('Not/AZone'); // ignored: never break every formatter
    expect(getSiteTimeZone()).toBe('America/New_York');
  });
});
