// Status and type filters and the search box of the sensors view; their values live in the URL.
import { useEffect, useState } from 'react';

import {
  SENSOR_SOURCES,
  SENSOR_STATUSES,
  SENSOR_TYPES,
  type SensorSource,
  type SensorStatus,
  type SensorType,
} from '@/lib/api/types';
import { SOURCE_LABELS } from '@/lib/format';

export interface SensorFilterValues {
  status: SensorStatus | null;
  type: SensorType | null;
  q: string;
  source: SensorSource | null;
}

export interface SensorFiltersProps {
  value: SensorFilterValues;
  onChange: (patch: Partial<SensorFilterValues>) => void;
  total: number | undefined;
  shown: number;
}

export function SensorFilters({ value, onChange, total, shown }: SensorFiltersProps) {
  const [text, setText] = useState(value.q);
  useEffect(() => setText(value.q), [value.q]);
  useEffect(() => {
    if (text === value.q) return;
    const timer = setTimeout(() => onChange({ q: text }), 250);
    return () => clearTimeout(timer);
  }, [text, value.q, onChange]);

  return (
    <form className="filters" role="search" aria-label="Filter sensors" onSubmit={(e) => e.preventDefault()}>
      <label className="field">
        <span>Search</span>
        <input
          type="search"
          placeholder="sensor or machine id"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') onChange({ q: text });
          }}
        />
      </label>
      <label className="field">
        <span>Status</span>
        <select
          value={value.status ?? ''}
          onChange={(e) => onChange({ status: (e.target.value || null) as SensorStatus | null })}
        >
          <option value="">All statuses</option>
          {SENSOR_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Type</span>
        <select
          value={value.type ?? ''}
          onChange={(e) => onChange({ type: (e.target.value || null) as SensorType | null })}
        >
          <option value="">All types</option>
          {SENSOR_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Source</span>
        <select
          value={value.source ?? ''}
          onChange={(e) => onChange({ source: (e.target.value || null) as SensorSource | null })}
        >
          <option value="">All sources</option>
          {SENSOR_SOURCES.map((s) => (
            <option key={s} value={s}>
              {SOURCE_LABELS[s]}
            </option>
          ))}
        </select>
      </label>
      <p className="filters__count muted" aria-live="polite" data-testid="sensor-count">
        {total === undefined ? 'Loading…' : `${shown.toLocaleString()} of ${total.toLocaleString()} sensors`}
      </p>
    </form>
  );
}
