// The site's time zone (from GET /api/v1/site/config), observable by React, and wall-clock maths in it: every view
// shows times and "today" in the site's zone, not the browser's.
import { useSyncExternalStore } from 'react';

type Listener = () => void;
const listeners = new Set<Listener>();
let siteZone: string | null = null;

/** The site's IANA zone once known; until then the browser's (the first paint only). */
export function getSiteTimeZone(): string {
  return siteZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Whether the API has told us the site's zone yet. */
export function siteTimeZoneKnown(): boolean {
  return siteZone !== null;
}

export function setSiteTimeZone(zone: string | null): void {
  if (zone !== null && !isValidZone(zone)) return;
  if (zone === siteZone) return;
  siteZone = zone;
  for (const listener of listeners) listener();
}

export function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSiteTimeZone(): string {
  return useSyncExternalStore(subscribe, getSiteTimeZone, getSiteTimeZone);
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const partFormats = new Map<string, Intl.DateTimeFormat>();

function partFormat(zone: string): Intl.DateTimeFormat {
  let format = partFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partFormats.set(zone, format);
  }
  return format;
}

/** The wall clock of an epoch (seconds) in a zone. */
export function wallClock(seconds: number, zone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of partFormat(zone).formatToParts(new Date(seconds * 1000))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of the zone from UTC at an instant, in seconds (east positive). */
export function utcOffset(seconds: number, zone: string): number {
  const w = wallClock(Math.floor(seconds), zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) / 1000;
  return asUtc - Math.floor(seconds);
}

/**
 * The epoch of a wall-clock time in a zone. A time skipped by a DST change resolves to the instant after the gap
 * (as the API's zoneinfo does for a skipped midnight); a repeated one to its first occurrence.
 */
export function fromWallClock(w: Omit<WallClock, 'second'> & { second?: number }, zone: string): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second ?? 0) / 1000;
  // the offset is the one in force either before or after a change: try both, keep those that read back
  const candidates = [asUtc - utcOffset(asUtc - 86_400, zone), asUtc - utcOffset(asUtc + 86_400, zone)];
  const matching = candidates.filter((t) => {
    const back = wallClock(t, zone);
    return back.hour === w.hour && back.minute === w.minute && back.day === w.day;
  });
  if (matching.length > 0) return Math.min(...matching);
  // in a gap: the wall time does not exist, the first instant after it does
  return asUtc - utcOffset(asUtc - 86_400, zone);
}

/** Start (epoch seconds) of the site-local day containing `seconds`. */
export function startOfDay(seconds: number, zone: string): number {
  const w = wallClock(seconds, zone);
  return fromWallClock({ year: w.year, month: w.month, day: w.day, hour: 0, minute: 0 }, zone);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DDTHH:mm` of an epoch in a zone (the value of an `<input type="datetime-local">`). */
export function toWallInput(seconds: number, zone: string): string {
  const w = wallClock(seconds, zone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The epoch of a `YYYY-MM-DDTHH:mm` wall time in a zone, or null when the text is not one. */
export function fromWallInput(text: string, zone: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  return fromWallClock({ year, month, day, hour, minute }, zone);
}
