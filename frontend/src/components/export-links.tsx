// "Export CSV" / "Excel" download links for a view: the API streams the file straight into the browser's download,
// with the view's current filters (reads need no token in the UI, so a plain link works).
import type { paths } from '@/lib/api/schema';

export type ExportPath = '/api/v1/export/history.csv' | '/api/v1/export/alerts.csv' | '/api/v1/export/suggestions.csv';
export type ExportQuery<P extends ExportPath> = Omit<
  NonNullable<paths[P]['get']['parameters']['query']>,
  'format' | 'decimal'
>;

/** `comma` where the browser's locale writes 1,5 (Excel there expects a decimal comma and `;` between fields). */
export function localDecimal(locale?: string): 'point' | 'comma' {
  const mark = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === 'decimal')?.value;
  return mark === ',' ? 'comma' : 'point';
}

/** The export's URL with the view's filters (empty ones left out). */
export function exportUrl<P extends ExportPath>(
  path: P,
  query: ExportQuery<P>,
  format: 'csv' | 'excel' = 'csv',
  decimal: 'point' | 'comma' = 'point',
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
    if (value !== null && value !== undefined && value !== '') params.set(key, String(value));
  }
  params.set('format', format);
  if (decimal !== 'point') params.set('decimal', decimal);
  return `${path}?${params.toString()}`;
}

export function ExportLinks<P extends ExportPath>({
  path,
  query,
  what,
}: {
  path: P;
  query: ExportQuery<P>;
  /** What is exported, for the links' accessible names ("history", "alerts", ...). */
  what: string;
}) {
  return (
    <div className="export-links" role="group" aria-label={`Export ${what}`}>
      <a
        className="button button--ghost"
        href={exportUrl(path, query)}
        download
        title="RFC 4180 CSV (comma, UTF-8), times in the site's time zone"
      >
        Export CSV
      </a>
      <a
        className="button button--ghost"
        href={exportUrl(path, query, 'excel', localDecimal())}
        download
        title="CSV for Excel: UTF-8 with a byte-order mark, your locale's decimal mark"
      >
        Excel
      </a>
    </div>
  );
}
