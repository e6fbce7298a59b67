// The colour-and-text badge for a sensor status or an alert severity (never colour alone).
import type { SensorStatus } from '@/lib/api/types';

const ICONS: Record<string, string> = { normal: '●', ok: '●', warning: '▲', critical: '■', info: '●' };

export function StatusBadge({ status }: { status: SensorStatus | string }) {
  return (
    <span className={`badge badge--${status}`}>
      <span aria-hidden="true">{ICONS[status] ?? '●'}</span> {status}
    </span>
  );
}
