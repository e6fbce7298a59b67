// Sensors by status as a proportional bar plus the exact counts (the counts carry the meaning, not the colour).
import { Link } from 'react-router';

import { StatusBadge } from '@/components/status-badge';
import { formatAgo, formatInteger, formatNumber } from '@/lib/format';
import { type ProducerStatus, SENSOR_STATUSES, type SensorStatus } from '@/lib/api/types';

export interface StatusBreakdownProps {
  counts: Record<SensorStatus, number> | undefined;
  producer: ProducerStatus | null;
}

export function StatusBreakdown({ counts, producer }: StatusBreakdownProps) {
  const total = SENSOR_STATUSES.reduce((sum, s) => sum + (counts?.[s] ?? 0), 0);
  return (
    <section className="card" aria-labelledby="status-breakdown-title">
      <h2 id="status-breakdown-title">Sensors by status</h2>
      <div className="status-bar" aria-hidden="true">
        {SENSOR_STATUSES.map((status) => {
          const share = total ? ((counts?.[status] ?? 0) / total) * 100 : 0;
          return share > 0 ? (
            <span
              key={status}
              className={`status-bar__part status-bar__part--${status}`}
              style={{ width: `${share}%` }}
            />
          ) : null;
        })}
      </div>
      <ul className="status-list">
        {SENSOR_STATUSES.map((status) => (
          <li key={status}>
            <Link to={`/sensors?status=${status}`} className={`status-list__item status-list__item--${status}`}>
              <span className="status-list__name">{status}</span>
              <span className="status-list__count" data-testid={`status-count-${status}`}>
                {formatInteger(counts?.[status] ?? 0)}
              </span>
            </Link>
          </li>
        ))}
      </ul>
      <h3 id="producer-title">Producers</h3>
      {producer && producer.producers.length > 0 ? (
        <ul className="producer-list" aria-labelledby="producer-title">
          {producer.producers.map((p) => (
            <li key={p.producer}>
              <StatusBadge status={p.connected ? 'ok' : 'critical'} />
              <span className="producer-list__name">{p.producer}</span>
              <span className="muted">
                {formatInteger(p.sensors)} sensors · {formatNumber(p.rate, 0)}/s · {formatAgo(p.received_at)}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No producer has sent a heartbeat yet.</p>
      )}
    </section>
  );
}
