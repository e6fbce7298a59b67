// Export links: the view's filters in the query (empty ones left out), the Excel flavour with the locale's decimal mark.
import { describe, expect, it } from 'vitest';

import { exportUrl, localDecimal } from '@/components/export-links';

describe('exportUrl', () => {
  it('keeps the filters that are set and names the format', () => {
    expect(exportUrl('/api/v1/export/history.csv', { sensor: 'm1 power', type: null, from: '10', to: '20' })).toBe(
      '/api/v1/export/history.csv?sensor=m1+power&from=10&to=20&format=csv',
    );
    expect(exportUrl('/api/v1/export/alerts.csv', { state: 'active' }, 'excel', 'comma')).toBe(
      '/api/v1/export/alerts.csv?state=active&format=excel&decimal=comma',
    );
  });

  it("follows the locale's decimal mark", () => {
    expect(localDecimal('de-DE')).toBe('comma');
    expect(localDecimal('en-GB')).toBe('point');
  });
});
