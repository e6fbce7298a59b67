// Time range picker: today (since the site's local midnight), presets (last 15 min … 7 days) or a custom from/to in
// the site's time zone, as a radio group plus two inputs.
import { fromWallInput, getSiteTimeZone, startOfDay, toWallInput } from '@/lib/site-time';

export const RANGE_PRESETS = [
  { id: '15m', label: '15 min', seconds: 15 * 60 },
  { id: '1h', label: '1 hour', seconds: 3600 },
  { id: '6h', label: '6 hours', seconds: 6 * 3600 },
  { id: '24h', label: '24 hours', seconds: 86_400 },
  { id: '7d', label: '7 days', seconds: 7 * 86_400 },
] as const;

export type RangeId = (typeof RANGE_PRESETS)[number]['id'] | 'today' | 'custom';

export interface RangeValue {
  range: RangeId;
  /** Epoch seconds; used when range is custom. */
  from: number | null;
  to: number | null;
}

function toSiteInput(seconds: number | null): string {
  return seconds === null ? '' : toWallInput(seconds, getSiteTimeZone());
}

function fromSiteInput(text: string): number | null {
  return fromWallInput(text, getSiteTimeZone());
}

/** Bucket width giving about `points` buckets: whole minutes (the history keeps one-minute rollups). */
export function autoStep(seconds: number, points = 120): number {
  const steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];
  const wanted = seconds / points;
  return steps.find((s) => s >= wanted) ?? 86_400;
}

/** The [from, to] window a range stands for at `now`; "today" starts at the site's local midnight. */
export function resolveRange(value: RangeValue, now: number, zone = getSiteTimeZone()): { from: number; to: number } {
  if (value.range === 'custom' && value.from !== null && value.to !== null && value.to > value.from) {
    return { from: value.from, to: value.to };
  }
  if (value.range === 'today') {
    const from = startOfDay(now, zone);
    return { from, to: Math.max(now, from + 60) };
  }
  const preset = RANGE_PRESETS.find((p) => p.id === value.range) ?? RANGE_PRESETS[1];
  return { from: now - preset.seconds, to: now };
}

export function RangePicker({
  value,
  onChange,
  now,
}: {
  value: RangeValue;
  onChange: (v: RangeValue) => void;
  now: number;
}) {
  const span = resolveRange(value, now);
  return (
    <fieldset className="range-picker">
      <legend>Time range</legend>
      <div className="segmented">
        <label className={value.range === 'today' ? 'segmented__item is-active' : 'segmented__item'}>
          <input
            type="radio"
            name="range"
            value="today"
            checked={value.range === 'today'}
            onChange={() => onChange({ range: 'today', from: null, to: null })}
          />
          Today
        </label>
        {RANGE_PRESETS.map((preset) => (
          <label
            key={preset.id}
            className={value.range === preset.id ? 'segmented__item is-active' : 'segmented__item'}
          >
            <input
              type="radio"
              name="range"
              value={preset.id}
              checked={value.range === preset.id}
              onChange={() => onChange({ range: preset.id, from: null, to: null })}
            />
            {preset.label}
          </label>
        ))}
        <label className={value.range === 'custom' ? 'segmented__item is-active' : 'segmented__item'}>
          <input
            type="radio"
            name="range"
            value="custom"
            checked={value.range === 'custom'}
            onChange={() => onChange({ range: 'custom', from: span.from, to: span.to })}
          />
          Custom
        </label>
      </div>
      {value.range === 'custom' ? (
        <div className="range-picker__custom">
          <label className="field">
            <span>From ({getSiteTimeZone()})</span>
            <input
              type="datetime-local"
              value={toSiteInput(value.from)}
              onChange={(e) => onChange({ ...value, from: fromSiteInput(e.target.value) })}
            />
          </label>
          <label className="field">
            <span>To ({getSiteTimeZone()})</span>
            <input
              type="datetime-local"
              value={toSiteInput(value.to)}
              onChange={(e) => onChange({ ...value, to: fromSiteInput(e.target.value) })}
            />
          </label>
        </div>
      ) : null}
    </fieldset>
  );
}
