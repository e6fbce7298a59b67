// A headline number with a label and an optional hint line.
import type { ReactNode } from 'react';

export interface StatCardProps {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  tone?: 'default' | 'warning' | 'critical' | 'ok';
  testId?: string;
}

export function StatCard({ label, value, hint, tone = 'default', testId }: StatCardProps) {
  return (
    <section className={`card stat stat--${tone}`} aria-label={label}>
      <h3 className="stat__label">{label}</h3>
      <p className="stat__value" data-testid={testId}>
        {value}
      </p>
      {hint ? <p className="stat__hint">{hint}</p> : null}
    </section>
  );
}
