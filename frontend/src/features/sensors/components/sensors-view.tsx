// Sensors: every sensor in a virtualized table with filters, search and sort (all in the URL) and a detail panel.
import { useCallback, useMemo } from 'react';
import { useParams } from 'react-router';

import { useSensors } from '@/features/sensors/api/get-sensors';
import { SensorDetail } from '@/features/sensors/components/sensor-detail';
import { type SensorFilterValues, SensorFilters } from '@/features/sensors/components/sensor-filters';
import { type SortDir, type SortKey, SensorsTable, sortSensors } from '@/features/sensors/components/sensors-table';
import { useSearchPatch } from '@/hooks/use-search-patch';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage, Loading } from '@/components/query-state';
import { useLive } from '@/hooks/use-live';
import { withLiveChange } from '@/lib/live-store';
import {
  SENSOR_SOURCES,
  SENSOR_STATUSES,
  SENSOR_TYPES,
  type SensorSource,
  type SensorStatus,
  type SensorType,
} from '@/lib/api/types';

const SORT_KEYS: SortKey[] = [
  'id',
  'machine',
  'type',
  'source',
  'status',
  'value',
  'score',
  'failure_probability',
  'updated_at',
];

export function SensorsView() {
  const { sensorId } = useParams();
  const [params, patchParams] = useSearchPatch();
  const status = SENSOR_STATUSES.includes(params.get('status') as SensorStatus)
    ? (params.get('status') as SensorStatus)
    : null;
  const type = SENSOR_TYPES.includes(params.get('type') as SensorType) ? (params.get('type') as SensorType) : null;
  const q = params.get('q') ?? '';
  const source = SENSOR_SOURCES.includes(params.get('source') as SensorSource)
    ? (params.get('source') as SensorSource)
    : null;
  const sortKey = SORT_KEYS.includes(params.get('sort') as SortKey) ? (params.get('sort') as SortKey) : 'id';
  const sortDir: SortDir = params.get('dir') === 'desc' ? 'desc' : 'asc';

  const query = useSensors({ status, type, q, source });
  const changes = useLive((s) => s.changes);

  const sensors = useMemo(() => {
    const merged = (query.data?.items ?? []).map((s) => withLiveChange(s, changes.get(s.id)));
    // A live change can move a sensor out of the filtered status; keep the table honest.
    const filtered = status ? merged.filter((s) => s.status === status) : merged;
    return sortSensors(filtered, sortKey, sortDir);
  }, [query.data, changes, status, sortKey, sortDir]);

  const update = useCallback(
    (patch: Partial<SensorFilterValues> & { sort?: SortKey; dir?: SortDir }) => {
      patchParams(patch);
    },
    [patchParams],
  );

  const onSort = (key: SortKey) => {
    const dir: SortDir =
      key === sortKey
        ? sortDir === 'asc'
          ? 'desc'
          : 'asc'
        : key === 'id' || key === 'machine' || key === 'type' || key === 'source'
          ? 'asc'
          : 'desc';
    update({ sort: key, dir });
  };

  const search = params.toString();
  const suffix = search ? `?${search}` : '';
  const hrefFor = (id: string) => `/sensors/${encodeURIComponent(id)}${suffix}`;

  return (
    <>
      <PageHeader
        title="Sensors"
        description="Latest scored state of every sensor; live changes are merged in as they arrive."
      />
      <SensorFilters
        value={{ status, type, q, source }}
        onChange={update}
        total={query.data?.total}
        shown={sensors.length}
      />
      {query.error ? <ErrorMessage error={query.error} what="the sensors" /> : null}
      <div className={sensorId ? 'split split--open' : 'split'}>
        <div className="split__main">
          {query.isPending ? (
            <Loading what="sensors" />
          ) : (
            <SensorsTable
              sensors={sensors}
              sortKey={sortKey}
              sortDir={sortDir}
              onSort={onSort}
              selectedId={sensorId}
              hrefFor={hrefFor}
            />
          )}
        </div>
        {sensorId ? <SensorDetail key={sensorId} id={sensorId} closeHref={`/sensors${suffix}`} /> : null}
      </div>
    </>
  );
}
