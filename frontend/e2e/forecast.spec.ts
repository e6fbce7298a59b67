// The site's zone, cost and load forecast against the live stack: the stack seeds days of site load, so the real
// forecaster publishes at start; the UI shows its band, model and backtest error, and times in the site's zone.
import { expect, test } from '@playwright/test';

import { expectLive } from './helpers';

test("the header names the site's zone and the dashboard prices today with the site's tariff", async ({ page }) => {
  const config = await (await page.request.get('/api/v1/site/config')).json();
  await page.goto('/');
  await expectLive(page);
  await expect(page.getByTestId('site-zone')).toHaveText(config.timezone);
  await expect(page.getByText('Energy today')).toBeVisible();
  await expect(page.getByTestId('stat-cost')).toHaveText(/\d/);
  await expect(page.getByText(`at the site's tariff, ${config.currency}`)).toBeVisible();
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
