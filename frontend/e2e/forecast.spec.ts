// The site's zone, cost and load forecast against the live stack: the stack seeds days of site load, so the real
// forecaster publishes at start; the UI shows its band, model and backtest error, and times in the site's zone.
import { expect, test } from '@playwright/test';

import { expectLive } from './helpers';

test("the header names the site's zone and the dashboard prices today with the site's tariff", async ({ page }) => {
  const config = await (await page.request.get('/api/v1/site/config')).json();
  // the last answer the UI itself received: the live site's cost grows, so compare with what it was shown
  let answered: { total_cost: number; currency: string } | undefined;
  page.on('response', async (response) => {
    if (!response.url().includes('/api/v1/analytics/energy') || !response.ok()) return;
    // a body the browser no longer holds (the page moved on) is not an answer: the next refresh is
    answered = await response.json().catch(() => answered);
  });
  await page.goto('/');
  await expectLive(page);
  await expect(page.getByTestId('site-zone')).toHaveText(config.timezone);
  await expect(page.getByText('Energy today')).toBeVisible();
  await expect(page.getByTestId('stat-cost')).toHaveText(/\d/);
  await expect(page.getByText(`at the site's tariff, ${config.currency}`)).toBeVisible();
  // the cost shown is the API's total_cost (the figure Grafana's "Cost today" exports), rounded to the cent
  await expect
    .poll(async () => {
      if (!answered) return 'no answer from /api/v1/analytics/energy yet';
      const { total_cost: cost, currency } = answered;
      const expected = await page.evaluate(
        ([value, code]) =>
          new Intl.NumberFormat(undefined, { style: 'currency', currency: code, maximumFractionDigits: 2 }).format(
            value,
          ),
        [cost, currency] as [number, string],
      );
      const shown = await page.getByTestId('stat-cost').textContent();
      return shown === expected ? 'equal' : `shown ${shown}, API ${expected} (${cost} ${currency})`;
    })
    .toBe('equal');
});

test('the dashboard and analytics draw forecast vs actual with the band, model and backtest error', async ({
  page,
}) => {
  test.setTimeout(480_000); // the forecaster's first backtest over the seeded days comes first
  await expect
    .poll(async () => (await page.request.get('/api/v1/forecast?scope=site')).status(), {
      timeout: 420_000,
      message: 'the forecaster should publish a site forecast from the seeded history',
    })
    .toBe(200);
  const forecast = await (await page.request.get('/api/v1/forecast?scope=site')).json();
  await page.goto('/');
  const model = page.getByTestId('forecast-model').first();
  await expect(model).toContainText(forecast.model);
  await expect(model).toContainText(forecast.model_version); // local-<n> or forecaster-v<n>, as the API names it
  await expect(model).toContainText('seasonal naive');
  const chart = page.getByRole('img', { name: /Forecast vs actual load of the site: \d+ forecast steps/ });
  await expect(chart).toBeVisible();
  await expect(chart.locator('canvas')).toHaveCount(1); // uPlot drew it
  const name = (await chart.getAttribute('aria-label')) ?? '';
  expect(Number(/(\d+) forecast steps/.exec(name)?.[1])).toBe(forecast.points.length);
  expect(Number(/(\d+) measured steps/.exec(name)?.[1])).toBeGreaterThan(0);

  await page.goto('/analytics?type=power&metric=mean&range=today');
  await expect(page.getByRole('heading', { name: 'Site load: forecast vs actual' })).toBeVisible();
  await expect(page.getByRole('img', { name: /Forecast vs actual load of the site/ })).toBeVisible();
});
