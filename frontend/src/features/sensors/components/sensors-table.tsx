// The sensors table: virtualized (only visible rows are in the DOM), sortable, keyboard reachable.
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useRef } from 'react';
import { Link } from 'react-router';

import { StatusBadge } from '@/components/status-badge';
import { formatNumber, formatPercent, formatTime, sourceLabel } from '@/lib/format';
import type { SensorState } from '@/lib/api/types';

export type SortKey =
  'id' | 'machine' | 'type' | 'source' | 'status' | 'value' | 'score' | 'failure_probability' | 'updated_at';
export type SortDir = 'asc' | 'desc';

const STATUS_RANK: Record<string, number> = { normal: 0, warning: 1, critical: 2 };

export function sortSensors(items: readonly SensorState[], key: SortKey, dir: SortDir): SensorState[] {
  const sign = dir === 'asc' ? 1 : -1;
  const value = (s: SensorState): number | string =>
    key === 'status' ? (STATUS_RANK[s.status] ?? 0) : key === 'source' ? sourceLabel(s.source) : s[key];
  return [...items].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return order !== 0 ? sign * order : a.id.localeCompare(b.id);
  });
}

const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'id', label: 'Sensor' },
  { key: 'machine', label: 'Machine' },
  { key: 'type', label: 'Type' },
  { key: 'source', label: 'Source' },
  { key: 'status', label: 'Status' },
  { key: 'value', label: 'Value', numeric: true },
  { key: 'score', label: 'Score', numeric: true },
  { key: 'failure_probability', label: 'Failure', numeric: true },
  { key: 'updated_at', label: 'Updated', numeric: true },
];

export const ROW_HEIGHT = 40;

interface SensorRowProps {
  sensor: SensorState;
  rowIndex: number;
  selected: boolean;
  href: string;
}

/** One row; memoized so scrolling renders only the rows that enter the window. */
const SensorRow = memo(function SensorRow({ sensor, rowIndex, selected, href }: SensorRowProps) {
  return (
    <tr
      aria-rowindex={rowIndex}
      aria-current={selected ? true : undefined}
      className={`${selected ? 'is-selected ' : ''}row--${sensor.status}`}
      style={{ height: ROW_HEIGHT }}
      data-testid="sensor-row"
      data-status={sensor.status}
    >
      <td>
        <Link to={href} className="sensor-link">
          {sensor.id}
        </Link>
      </td>
      <td>{sensor.machine}</td>
      <td>{sensor.type}</td>
      <td data-testid="sensor-source">{sourceLabel(sensor.source)}</td>
      <td>
        <StatusBadge status={sensor.status} />
      </td>
      <td className="num">
        {formatNumber(sensor.value, 2)} <span className="muted">{sensor.unit}</span>
      </td>
      <td className="num">{formatNumber(sensor.score, 2)}</td>
      <td className="num">{formatPercent(sensor.failure_probability)}</td>
      <td className="num">{formatTime(sensor.updated_at)}</td>
    </tr>
  );
});

export interface SensorsTableProps {
  sensors: SensorState[];
  sortKey: SortKey;
  sortDir: SortDir;
  onSort: (key: SortKey) => void;
  selectedId?: string;
  /** Link target for a sensor (keeps the current filters). */
  hrefFor: (id: string) => string;
  height?: number;
}

export function SensorsTable({
  sensors,
  sortKey,
  sortDir,
  onSort,
  selectedId,
  hrefFor,
  height = 600,
}: SensorsTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: sensors.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    initialRect: { width: 1000, height },
  });
  const rows = virtualizer.getVirtualItems();
  const before = rows[0]?.start ?? 0;
  const after = rows.length > 0 ? virtualizer.getTotalSize() - (rows[rows.length - 1]?.end ?? 0) : 0;

  return (
    <div
      ref={scroller}
      className="table-scroll table-scroll--sensors"
      tabIndex={0}
      role="region"
      aria-label={`Sensors table, ${sensors.length} rows`}
    >
      <table className="data-table sensors-table" aria-rowcount={sensors.length + 1}>
        <thead>
          <tr aria-rowindex={1}>
            {COLUMNS.map((column) => {
              const active = column.key === sortKey;
              return (
                <th
                  key={column.key}
                  scope="col"
                  className={column.numeric ? 'num' : undefined}
                  aria-sort={active ? (sortDir === 'asc' ? 'ascending' : 'descending') : 'none'}
                >
                  <button type="button" className="sort-button" onClick={() => onSort(column.key)}>
                    {column.label}
                    <span aria-hidden="true" className="sort-button__icon">
                      {active ? (sortDir === 'asc' ? '▲' : '▼') : '↕'}
                    </span>
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {before > 0 ? (
            <tr aria-hidden="true" className="spacer">
              <td colSpan={COLUMNS.length} style={{ height: before }} />
            </tr>
          ) : null}
          {rows.map((row) => {
            const sensor = sensors[row.index];
            if (!sensor) return null;
            return (
              <SensorRow
                key={sensor.id}
                sensor={sensor}
                rowIndex={row.index + 2}
                selected={sensor.id === selectedId}
                href={hrefFor(sensor.id)}
              />
            );
          })}
          {after > 0 ? (
            <tr aria-hidden="true" className="spacer">
              <td colSpan={COLUMNS.length} style={{ height: after }} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
