// Time range picker: presets (last 15 min … 7 days) or a custom from/to, as a radio group plus two inputs.
export const RANGE_PRESETS = [
  { id: '15m', label: '15 min', seconds: 15 * 60 },
  { id: '1h', label: '1 hour', seconds: 3600 },
  { id: '6h', label: '6 hours', seconds: 6 * 3600 },
  { id: '24h', label: '24 hours', seconds: 86_400 },
  { id: '7d', label: '7 days', seconds: 7 * 86_400 },
] as const;

export type RangeId = (typeof RANGE_PRESETS)[number]['id'] | 'custom';

export interface RangeValue {
  range: RangeId;
  /** Epoch seconds; used when range is custom. */
  from: number | null;
  to: number | null;
}

function toLocalInput(seconds: number | null): string {
  if (seconds === null) return '';
  const date = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function fromLocalInput(text: string): number | null {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** Bucket width giving about `points` buckets: whole minutes (the history keeps one-minute rollups). */
export function autoStep(seconds: number, points = 120): number {
  const steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];
  const wanted = seconds / points;
  return steps.find((s) => s >= wanted) ?? 86_400;
}

/** The [from, to] window a range stands for at `now`. */
export function resolveRange(value: RangeValue, now: number): { from: number; to: number } {
  if (value.range === 'custom' && value.from !== null && value.to !== null && value.to > value.from) {
    return { from: value.from, to: value.to };
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
            <span>From</span>
            <input
              type="datetime-local"
              value={toLocalInput(value.from)}
              onChange={(e) => onChange({ ...value, from: fromLocalInput(e.target.value) })}
            />
          </label>
          <label className="field">
            <span>To</span>
            <input
              type="datetime-local"
              value={toLocalInput(value.to)}
              onChange={(e) => onChange({ ...value, to: fromLocalInput(e.target.value) })}
            />
          </label>
        </div>
      ) : null}
    </fieldset>
  );
}
