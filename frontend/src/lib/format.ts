// Number, time and percentage formatting shared by every view.

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

// Intl formatters are costly to create; the tables format thousands of cells, so build each once.
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium', hour12: false });

export function formatTime(value: number | string | null | undefined): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return '—';
  return timeFormat.format(seconds * 1000);
}

export function formatDateTime(value: number | string | null | undefined): string {
  const seconds = toEpochSeconds(value);
  if (seconds === null) return '—';
  return dateTimeFormat.format(seconds * 1000);
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
