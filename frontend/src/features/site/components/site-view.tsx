// Site: the operator's status of this EnergySite (components desired vs ready, lag, scaling), or local mode.
import { useSite } from '@/features/site/api/get-site';
import { PageHeader } from '@/components/page-header';
import { ErrorMessage, Loading } from '@/components/query-state';
import { StatCard } from '@/components/stat-card';
import { StatusBadge } from '@/components/status-badge';
import { formatDateTime, formatInteger } from '@/lib/format';
import type { ComponentStatus, SiteStatus } from '@/lib/api/types';

function ComponentRow({ name, status }: { name: string; status: ComponentStatus }) {
  const ok = status.ready >= status.desired;
  const share = status.desired > 0 ? Math.min(100, (status.ready / status.desired) * 100) : 100;
  return (
    <tr>
      <th scope="row">{name}</th>
      <td className="num">{formatInteger(status.desired)}</td>
      <td className="num">{formatInteger(status.ready)}</td>
      <td>
        <span className="meter" aria-hidden="true">
          <span className={ok ? 'meter__fill' : 'meter__fill meter__fill--warning'} style={{ width: `${share}%` }} />
        </span>
        <StatusBadge status={ok ? 'ok' : 'warning'} />
      </td>
    </tr>
  );
}

/** The headline fields of the summary. */
function describe(site: SiteStatus) {
  return {
    name: site.site ?? '—',
    helmRevision: site.helm?.revision ?? null,
    decision: site.scaling?.lastDecision ?? null,
  };
}

export function SiteView() {
  const query = useSite();
  const site = query.data;
  return (
    <>
      <PageHeader title="Site" description="What the Gridwatch operator reports about this EnergySite." />
      {query.error ? <ErrorMessage error={query.error} what="the site status" /> : null}
      {query.isPending ? <Loading what="the site status" /> : null}
      {site?.mode === 'local' ? (
        <section className="card" aria-labelledby="site-local-title">
          <h2 id="site-local-title">Local mode</h2>
          <p className="notice" data-testid="site-mode">
            {site.message || 'not running on Kubernetes'}
          </p>
          <p className="muted">
            The workloads run as local processes (<code>make up</code>), so there is no operator, no replicas to scale
            and no consumer-lag autoscaling. Deploy an EnergySite to a cluster to see them here.
          </p>
        </section>
      ) : null}
      {site?.mode === 'kubernetes' ? (
        <>
          <div className="stat-grid">
            <StatCard
              label="EnergySite"
              value={describe(site).name}
              hint={`namespace ${site.namespace}${site.paused ? ' · paused' : ''}`}
              tone={site.ready === undefined ? 'default' : site.ready ? 'ok' : 'warning'}
              testId="site-name"
            />
            <StatCard
              label="Ready"
              value={site.ready === undefined ? '—' : site.ready ? 'yes' : 'no'}
              hint={
                site.observedGeneration !== undefined && site.observedGeneration !== null
                  ? `generation ${site.observedGeneration}${site.generation ? ` of ${site.generation}` : ''} reconciled`
                  : undefined
              }
            />
            <StatCard
              label="Consumer lag (readings)"
              value={
                site.consumerLagReadings === null || site.consumerLagReadings === undefined
                  ? '—'
                  : formatInteger(site.consumerLagReadings)
              }
              hint={`readings the processors have not consumed yet${
                site.consumerLag === null || site.consumerLag === undefined
                  ? ''
                  : ` (${formatInteger(site.consumerLag)} Kafka messages)`
              }`}
              testId="site-lag"
            />
            <StatCard
              label="Processors"
              value={site.processors ?? '—'}
              hint={
                site.autoscaling
                  ? `autoscaled from lag${site.scaling?.replicas ? `, chosen ${site.scaling.replicas}` : ''}`
                  : 'fixed replicas'
              }
            />
            <StatCard
              label="Helm revision"
              value={describe(site).helmRevision ?? '—'}
              hint={
                site.helm?.error
                  ? `error: ${site.helm.error}`
                  : site.helm?.chartVersion
                    ? `chart ${site.helm.chartVersion}`
                    : undefined
              }
              tone={site.helm?.error ? 'critical' : 'default'}
            />
          </div>
          <div className="dashboard-grid">
            <section className="card" aria-labelledby="components-title">
              <h2 id="components-title">Components</h2>
              <table className="data-table">
                <thead>
                  <tr>
                    <th scope="col">Component</th>
                    <th scope="col" className="num">
                      Desired
                    </th>
                    <th scope="col" className="num">
                      Ready
                    </th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(site.components ?? {}).map(([name, status]) => (
                    <ComponentRow key={name} name={name} status={status} />
                  ))}
                </tbody>
              </table>
            </section>
            <section className="card" aria-labelledby="scaling-title">
              <h2 id="scaling-title">Last scaling decision</h2>
              {describe(site).decision ? (
                <dl className="kv">
                  <div>
                    <dt>When</dt>
                    <dd>{formatDateTime(describe(site).decision?.time ?? null)}</dd>
                  </div>
                  <div>
                    <dt>Replicas</dt>
                    <dd>
                      {describe(site).decision?.from ?? '—'} → {describe(site).decision?.to ?? '—'}
                    </dd>
                  </div>
                  <div>
                    <dt>Lag then</dt>
                    <dd>{formatInteger(describe(site).decision?.lag ?? null)}</dd>
                  </div>
                  <div>
                    <dt>Why</dt>
                    <dd>{describe(site).decision?.reason ?? '—'}</dd>
                  </div>
                </dl>
              ) : (
                <p className="muted">The autoscaler has not changed the processor count yet.</p>
              )}
              {site.scaling?.capacity?.messagesPerSecondPerProcessor ? (
                <p className="muted" data-testid="site-capacity">
                  One processor drains {formatInteger(site.scaling.capacity.messagesPerSecondPerProcessor)} Kafka
                  messages/s (measured {formatDateTime(site.scaling.capacity.measuredAt ?? null)}); scale-down keeps
                  enough processors for the input at 80 % of that.
                </p>
              ) : null}
            </section>
            <section className="card card--wide" aria-labelledby="conditions-title">
              <h2 id="conditions-title">Conditions</h2>
              <table className="data-table">
                <thead>
                  <tr>
                    <th scope="col">Type</th>
                    <th scope="col">Status</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Message</th>
                    <th scope="col">Since</th>
                  </tr>
                </thead>
                <tbody>
                  {(site.conditions ?? []).map((c) => (
                    <tr key={c.type}>
                      <th scope="row">{c.type}</th>
                      <td>
                        <StatusBadge
                          status={
                            (c.type === 'Degraded' ? c.status === 'False' : c.status === 'True') ? 'ok' : 'warning'
                          }
                        />{' '}
                        {c.status}
                      </td>
                      <td>{c.reason ?? '—'}</td>
                      <td>{c.message ?? ''}</td>
                      <td>{formatDateTime(c.lastTransitionTime ?? null)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
        </>
      ) : null}
    </>
  );
}
