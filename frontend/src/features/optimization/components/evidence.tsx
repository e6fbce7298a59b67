// Render a suggestion's evidence, whatever its shape: a list, key/value pairs or plain text.
import { formatNumber } from '@/lib/format';

function scalar(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : formatNumber(value, 3);
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (value === null || value === undefined) return '—';
  return JSON.stringify(value);
}

function label(key: string): string {
  return key.replace(/_/g, ' ');
}

export function Evidence({ value }: { value: unknown }) {
  if (value === null || value === undefined || value === '') return null;
  if (Array.isArray(value)) {
    return (
      <ul className="evidence">
        {value.map((item, index) => (
          <li key={index}>{typeof item === 'object' && item !== null ? <Evidence value={item} /> : scalar(item)}</li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    return (
      <dl className="evidence kv kv--compact">
        {Object.entries(value as Record<string, unknown>).map(([key, item]) => (
          <div key={key}>
            <dt>{label(key)}</dt>
            <dd>{typeof item === 'object' && item !== null ? <Evidence value={item} /> : scalar(item)}</dd>
          </div>
        ))}
      </dl>
    );
  }
  return <p className="evidence">{scalar(value)}</p>;
}
