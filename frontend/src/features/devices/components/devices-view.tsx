// Devices: each gateway with its transport, last seen, rate, readings and rejected readings with why.
import { useState } from 'react';

import { useDeclaredSensors, useDevices } from '@/features/devices/api/get-devices';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage, Loading } from '@/components/query-state';
import { formatAgo, formatInteger, formatNumber } from '@/lib/format';
import type { Gateway } from '@/lib/api/types';

function reasons(gateway: Gateway): string {
  const parts = Object.entries(gateway.rejected_by_reason)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${reason} ${formatInteger(count)}`);
  return parts.length ? parts.join(', ') : '—';
}

function Sensors({ gateway }: { gateway: string }) {
  const query = useDeclaredSensors(gateway);
  if (query.error) return <ErrorMessage error={query.error} what={`the sensors of ${gateway}`} />;
  if (query.isPending) return <Loading what={`the sensors of ${gateway}`} />;
  return (
    <section className="card" aria-labelledby="device-sensors-title">
      <h2 id="device-sensors-title">Sensors declared by {gateway}</h2>
      {query.data.items.length === 0 ? (
        <p className="muted">No declared sensors: its keys are typed by their names.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">sensor</th>
              <th scope="col">type</th>
              <th scope="col">unit</th>
              <th scope="col">machine</th>
            </tr>
          </thead>
          <tbody>
            {query.data.items.map((s) => (
              <tr key={s.sensor_id}>
                <th scope="row">{s.sensor_id}</th>
                <td>{s.type}</td>
                <td>{s.unit}</td>
                <td>{s.machine || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function DevicesView() {
  const query = useDevices();
  const [selected, setSelected] = useState<string | null>(null);
  const items = query.data?.items ?? [];
  return (
    <>
      <PageHeader
        title="Devices"
        description="Gateways sending readings over HTTP or MQTT: when they were last heard, how fast, and what was refused."
      />
      {query.error ? <ErrorMessage error={query.error} what="the devices" /> : null}
      {query.isPending ? <Loading what="the devices" /> : null}
      {query.data && items.length === 0 ? (
        <p className="notice" data-testid="devices-empty">
          No gateway has sent readings yet. See docs/devices.md to connect one.
        </p>
      ) : null}
      {items.length > 0 ? (
        <section className="card" aria-labelledby="devices-title">
          <h2 id="devices-title">Gateways ({formatInteger(query.data?.total)})</h2>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">gateway</th>
                <th scope="col">transport</th>
                <th scope="col">last seen</th>
                <th scope="col" className="num">
                  readings/s
                </th>
                <th scope="col" className="num">
                  readings
                </th>
                <th scope="col" className="num">
                  rejected
                </th>
                <th scope="col">why</th>
                <th scope="col">sensors</th>
              </tr>
            </thead>
            <tbody>
              {items.map((g) => (
                <tr key={g.gateway} aria-selected={selected === g.gateway}>
                  <th scope="row">{g.gateway}</th>
                  <td>{g.transport}</td>
                  <td>{formatAgo(g.last_seen)}</td>
                  <td className="num">{formatNumber(g.rate)}</td>
                  <td className="num">{formatInteger(g.readings)}</td>
                  <td className="num">{formatInteger(g.rejected)}</td>
                  <td title={g.last_rejection ?? undefined}>{reasons(g)}</td>
                  <td>
                    <button type="button" className="button button--ghost" onClick={() => setSelected(g.gateway)}>
                      {formatInteger(g.declared_sensors)} declared
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      {selected ? <Sensors gateway={selected} /> : null}
    </>
  );
}
