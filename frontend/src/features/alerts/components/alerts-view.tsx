// Alerts: active, acknowledged and cleared alerts; acknowledge or clear with the operator's bearer token.
import { useState } from 'react';
import { Link } from 'react-router';

import { useAlerts } from '@/features/alerts/api/get-alerts';
import { type AlertAction, useUpdateAlert } from '@/features/alerts/api/update-alert';
import { useSearchPatch } from '@/hooks/use-search-patch';
import { ExportLinks } from '@/components/export-links';
import { PageHeader } from '@/components/page-header';
import { Empty, ErrorMessage, Loading } from '@/components/query-state';
import { StatusBadge } from '@/components/status-badge';
import { ApiError } from '@/lib/api-client';
import { formatAgo, formatDateTime, formatInteger, formatNumber } from '@/lib/format';
import { openSettings, useSettings } from '@/lib/settings-store';
import { ALERT_STATES, type Alert, type AlertState, SEVERITIES } from '@/lib/api/types';

const PAGE = 100;
const STATE_LABELS: Record<AlertState, string> = { active: 'Active', acknowledged: 'Acknowledged', cleared: 'Cleared' };

function explain(error: unknown, action: AlertAction): string {
  const verb = action === 'ack' ? 'acknowledge' : 'clear';
  if (error instanceof ApiError) {
    if (error.status === 401) return `Could not ${verb}: the API wants a bearer token (set one in Settings).`;
    if (error.status === 403) return `Could not ${verb}: the API refused the token (${error.detail}).`;
    if (error.status === 404) return `Could not ${verb}: the alert no longer exists.`;
    if (error.status === 409) return `Could not ${verb}: ${error.detail}`;
    return `Could not ${verb}: ${error.message}`;
  }
  return `Could not ${verb}: ${error instanceof Error ? error.message : String(error)}`;
}

export function AlertsView() {
  const [params, patchParams] = useSearchPatch();
  const state = ALERT_STATES.includes(params.get('state') as AlertState)
    ? (params.get('state') as AlertState)
    : 'active';
  const severity = SEVERITIES.find((s) => s === params.get('severity')) ?? null;
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const query = useAlerts({ state, severity, limit: PAGE, offset });
  const { token } = useSettings();
  const mutation = useUpdateAlert();
  const [feedback, setFeedback] = useState<{ text: string; error: boolean } | null>(null);

  const set = patchParams;

  const act = (alert: Alert, action: AlertAction) => {
    setFeedback(null);
    mutation.mutate(
      { id: alert.id, action },
      {
        onSuccess: () =>
          setFeedback({
            text: `Alert on ${alert.sensor_id} ${action === 'ack' ? 'acknowledged' : 'cleared'}.`,
            error: false,
          }),
        onError: (error) => setFeedback({ text: explain(error, action), error: true }),
      },
    );
  };

  const total = query.data?.total ?? 0;
  const items = query.data?.items ?? [];
  const busyId = mutation.isPending ? mutation.variables?.id : undefined;

  return (
    <>
      <PageHeader
        title="Alerts"
        description="Alerts from the alert engine, deduplicated by fingerprint."
        actions={<ExportLinks path="/api/v1/export/alerts.csv" what="alerts" query={{ state, severity }} />}
      />
      <nav className="tabs" aria-label="Alert state">
        {ALERT_STATES.map((s) => (
          <Link
            key={s}
            to={`/alerts?state=${s}${severity ? `&severity=${severity}` : ''}`}
            className={s === state ? 'tabs__item is-active' : 'tabs__item'}
            aria-current={s === state ? 'page' : undefined}
          >
            {STATE_LABELS[s]}
          </Link>
        ))}
      </nav>
      <form className="filters" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span>Severity</span>
          <select value={severity ?? ''} onChange={(e) => set({ severity: e.target.value || null, offset: null })}>
            <option value="">All severities</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <p className="filters__count muted" data-testid="alert-count">
          {query.data ? `${formatInteger(total)} ${state} alerts` : ''}
        </p>
      </form>
      {!token && state !== 'cleared' ? (
        <div className="notice">
          Acknowledging and clearing need the API&apos;s bearer token.{' '}
          <button type="button" className="button button--link" onClick={openSettings}>
            Set the token in Settings
          </button>
        </div>
      ) : null}
      <div
        role="status"
        aria-live="polite"
        className={feedback?.error ? 'notice notice--error' : feedback ? 'notice notice--ok' : 'sr-only'}
      >
        {feedback?.text ?? ''}
      </div>
      {query.error ? <ErrorMessage error={query.error} what="the alerts" /> : null}
      {query.isPending ? <Loading what="alerts" /> : null}
      {query.data && items.length === 0 ? <Empty>No {state} alerts.</Empty> : null}
      {items.length > 0 ? (
        <div
          className="table-scroll table-scroll--auto"
          tabIndex={0}
          role="region"
          aria-label={`${STATE_LABELS[state]} alerts`}
        >
          <table className="data-table alerts-table">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Sensor</th>
                <th scope="col">Message</th>
                <th scope="col" className="num">
                  Value
                </th>
                <th scope="col" className="num">
                  Count
                </th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                {state === 'acknowledged' ? <th scope="col">Acknowledged</th> : null}
                {state === 'cleared' ? <th scope="col">Cleared</th> : null}
                {state !== 'cleared' ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {items.map((alert) => (
                <tr key={alert.id} data-testid="alert-row" data-alert-id={alert.id}>
                  <td>
                    <StatusBadge status={alert.severity} />
                  </td>
                  <td>
                    {alert.sensor_id ? (
                      <Link to={`/sensors/${encodeURIComponent(alert.sensor_id)}`}>{alert.sensor_id}</Link>
                    ) : (
                      '—'
                    )}
                    <div className="muted">{alert.machine}</div>
                  </td>
                  <td>
                    {alert.message}
                    <div className="muted">{alert.rule}</div>
                  </td>
                  <td className="num">{formatNumber(alert.value, 2)}</td>
                  <td className="num">{formatInteger(alert.count)}</td>
                  <td>{formatDateTime(alert.first_seen)}</td>
                  <td title={formatDateTime(alert.last_seen)}>{formatAgo(alert.last_seen)}</td>
                  {state === 'acknowledged' ? (
                    <td>
                      {formatDateTime(alert.acknowledged_at)}
                      {alert.acknowledged_by ? <div className="muted">by {alert.acknowledged_by}</div> : null}
                    </td>
                  ) : null}
                  {state === 'cleared' ? <td>{formatDateTime(alert.cleared_at)}</td> : null}
                  {state !== 'cleared' ? (
                    <td className="actions">
                      <div className="actions__buttons">
                        {state === 'active' ? (
                          <button
                            type="button"
                            className="button"
                            disabled={busyId === alert.id}
                            onClick={() => act(alert, 'ack')}
                            aria-label={`Acknowledge alert on ${alert.sensor_id}`}
                          >
                            Acknowledge
                          </button>
                        ) : null}
                        <button
                          type="button"
                          className="button button--ghost"
                          disabled={busyId === alert.id}
                          onClick={() => act(alert, 'clear')}
                          aria-label={`Clear alert on ${alert.sensor_id}`}
                        >
                          Clear
                        </button>
                      </div>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {total > PAGE ? (
        <nav className="pager" aria-label="Alert pages">
          <button
            type="button"
            className="button button--ghost"
            disabled={offset === 0}
            onClick={() => set({ offset: String(Math.max(0, offset - PAGE)) })}
          >
            Previous
          </button>
          <span className="muted">
            {formatInteger(offset + 1)}–{formatInteger(Math.min(total, offset + PAGE))} of {formatInteger(total)}
          </span>
          <button
            type="button"
            className="button button--ghost"
            disabled={offset + PAGE >= total}
            onClick={() => set({ offset: String(offset + PAGE) })}
          >
            Next
          </button>
        </nav>
      ) : null}
    </>
  );
}
