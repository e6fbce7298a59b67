// Number, time and percentage formatting shared by every view; times are shown in the site's time zone.
import { getSiteTimeZone } from '@/lib/site-time';
import type { SensorSource } from '@/lib/api/types';

/** How a sensor's source reads in the UI. */
export const SOURCE_LABELS: Record<SensorSource, string> = {
  simulated: 'Simulated',
  http: 'HTTP',
  mqtt: 'MQTT',
  replay: 'Replay',
};

/** A sensor's source, or 'Unknown' when its producer predates the field. */
export function sourceLabel(source: SensorSource | null | undefined): string {
  return source ? SOURCE_LABELS[source] : 'Unknown';
}

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(digits: number): Intl.NumberFormat {
  const key = String(digits);
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(key, format);
  }
  return format;
}

export function formatNumber(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return numberFormat(digits).format(value);
}

export function formatInteger(value: number | null | undefined): string {
  return formatNumber(value, 0);
}

export function formatPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return `${formatNumber(value * 100, digits)} %`;
}

export function formatMoney(value: number | null | undefined, currency: string): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 2 }).format(value);
  } catch {
    return `${formatNumber(value, 2)} ${currency}`;
  }
}

/** Epoch seconds, ISO text or null -> epoch seconds or null. */
export function toEpochSeconds(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed / 1000;
}

// Intl formatters are costly to create; the tables format thousands of cells, so build each once per zone.
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(kind: 'time' | 'datetime' | 'day' | 'zone', zone: string): Intl.DateTimeFormat {
  const key = `${kind}|${zone}`;
  let format = dateFormats.get(key);
  if (!format) {
    const options: Intl.DateTimeFormatOptions =
      kind === 'time'
        ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
        : kind === 'datetime'
          ? { dateStyle: 'short', timeStyle: 'medium', hour12: false }
          : kind === 'day'
            ? { weekday: 'short', day: 'numeric', month: 'short' }
            : { timeZoneName: 'short' };
    format = new Intl.DateTimeFormat(undefined, { ...options, timeZone: zone });
    dateFormats.set(key, format);
  }
  return format;
}

export function formatTime(value: number | string | null | undefined, zone = getSiteTimeZone()): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return '—';
  return dateFormat('time', zone).format(seconds * 1000);
}

export function formatDateTime(value: number | string | null | undefined, zone = getSiteTimeZone()): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return '—';
  return dateFormat('datetime', zone).format(seconds * 1000);
}

/** "Sun, 25 Oct": a local day of the site. */
export function formatDay(value: number | string | null | undefined, zone = getSiteTimeZone()): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return '—';
  return dateFormat('day', zone).format(seconds * 1000);
}

/** The zone's short name at an instant, e.g. "CET" or "GMT+1". */
export function formatZoneName(seconds: number, zone = getSiteTimeZone()): string {
  const part = dateFormat('zone', zone)
    .formatToParts(seconds * 1000)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? zone;
}

/** "12 s ago", "3 min ago", relative to `now` (epoch seconds). */
export function formatAgo(value: number | string | null | undefined, now = Date.now() / 1000): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return 'never';
  const age = Math.max(0, now - seconds);
  if (age < 60) return `${Math.round(age)} s ago`;
  if (age < 3600) return `${Math.round(age / 60)} min ago`;
  if (age < 86_400) return `${Math.round(age / 3600)} h ago`;
  return `${Math.round(age / 86_400)} d ago`;
}
