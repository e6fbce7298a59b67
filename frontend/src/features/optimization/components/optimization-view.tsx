// Optimization: suggestions ranked by priority, with their evidence and the estimated savings.
import { Link } from 'react-router';

import { useSuggestions } from '@/features/optimization/api/get-suggestions';
import { Evidence } from '@/features/optimization/components/evidence';
import { ExportLinks } from '@/components/export-links';
import { PageHeader } from '@/components/page-header';
import { Empty, ErrorMessage, Loading } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { useSearchPatch } from '@/hooks/use-search-patch';
import { SUGGESTION_KINDS } from '@/lib/api/types';
import { formatDateTime, formatMoney, formatNumber } from '@/lib/format';

/** Priority runs from 0 to 100. */
function priorityTone(priority: number): string {
  if (priority >= 66) return 'high';
  if (priority >= 33) return 'medium';
  return 'low';
}

export function OptimizationView() {
  const [params, patchParams] = useSearchPatch();
  const kind = SUGGESTION_KINDS.find((k) => k === params.get('kind')) ?? null;
  const minPriorityText = params.get('min_priority');
  const minPriority = minPriorityText !== null && minPriorityText !== '' ? Number(minPriorityText) : null;
  const query = useSuggestions({ kind, minPriority });
  // Kinds come from an unfiltered copy so the filter keeps offering every kind.
  const all = useSuggestions({});
  const kinds = [...new Set([...SUGGESTION_KINDS, ...(all.data?.items ?? []).map((s) => s.kind)])].sort();
  const items = [...(query.data?.items ?? [])].sort((a, b) => b.priority - a.priority);
  const currency = query.data?.currency ?? 'EUR';
  const kwh = items.reduce((sum, s) => sum + (s.estimated_saving_kwh || 0), 0);
  const money = items.reduce((sum, s) => sum + (s.estimated_saving_currency || 0), 0);

  const set = (key: string, value: string) => patchParams({ [key]: value });

  return (
    <>
      <PageHeader
        title="Optimization"
        actions={
          <ExportLinks
            path="/api/v1/export/suggestions.csv"
            what="suggestions"
            query={{
              kind,
              min_priority: minPriority !== null && Number.isFinite(minPriority) ? minPriority : undefined,
            }}
          />
        }
        description={
          query.data
            ? `Suggestions generated ${formatDateTime(query.data.generated_at)}`
            : 'Where the site can save energy.'
        }
      />
      <form className="filters" aria-label="Filter suggestions" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span>Kind</span>
          <select value={kind ?? ''} onChange={(e) => set('kind', e.target.value)}>
            <option value="">All kinds</option>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {k.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Minimum priority</span>
          <input
            type="number"
            min={0}
            max={100}
            step="any"
            value={minPriorityText ?? ''}
            onChange={(e) => set('min_priority', e.target.value)}
          />
        </label>
      </form>
      {query.error ? <ErrorMessage error={query.error} what="the suggestions" /> : null}
      {query.isPending ? <Loading what="suggestions" /> : null}
      {query.data ? (
        <>
          <div className="stat-grid">
            <StatCard label="Suggestions" value={items.length} />
            <StatCard label="Estimated saving (energy)" value={<>{formatNumber(kwh, 1)} kWh</>} />
            <StatCard label="Estimated saving (cost)" value={formatMoney(money, currency)} tone="ok" />
          </div>
          {items.length === 0 ? <Empty>No suggestion matches these filters.</Empty> : null}
          <ol className="suggestions">
            {items.map((s) => (
              <li key={s.id} className="card suggestion" data-testid="suggestion">
                <div className="suggestion__header">
                  <h2>{s.title}</h2>
                  <span className={`priority priority--${priorityTone(s.priority)}`}>
                    priority {formatNumber(s.priority, 0)}
                  </span>
                </div>
                <p className="muted">
                  {s.kind.replace(/_/g, ' ')}
                  {s.machine ? <> · machine {s.machine}</> : null}
                </p>
                <p>{s.description}</p>
                <p className="suggestion__savings">
                  Saves about <strong>{formatNumber(s.estimated_saving_kwh, 1)} kWh</strong> (
                  {formatMoney(s.estimated_saving_currency, currency)})
                </p>
                <details>
                  <summary>Evidence</summary>
                  <Evidence value={s.evidence} />
                </details>
                {s.sensors.length > 0 ? (
                  <p className="suggestion__sensors">
                    Sensors:{' '}
                    {s.sensors.slice(0, 6).map((id, index) => (
                      <span key={id}>
                        {index > 0 ? ', ' : null}
                        <Link to={`/sensors/${encodeURIComponent(id)}`}>{id}</Link>
                      </span>
                    ))}
                    {s.sensors.length > 6 ? ` and ${s.sensors.length - 6} more` : null}
                  </p>
                ) : null}
              </li>
            ))}
          </ol>
        </>
      ) : null}
    </>
  );
}
