// `make screenshots`: refresh docs/screenshots/ with every view of the live stack (dashboard in both themes).
import path from 'node:path';

import { type Page, expect, test } from '@playwright/test';

import { presetSettings, someSensorId } from './helpers';

const OUT = path.resolve(import.meta.dirname, '..', '..', 'docs', 'screenshots');

async function shoot(page: Page, name: string) {
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await page.waitForTimeout(800);
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: false });
}

test.use({ viewport: { width: 1280, height: 860 } });

test('dashboard, light and dark', async ({ page }) => {
  test.setTimeout(90_000);
  for (const theme of ['light', 'dark'] as const) {
    await presetSettings(page, { theme });
    await page.goto('/');
    await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible({ timeout: 20_000 });
    // Let the live trend collect some points.
    await page.waitForTimeout(20_000);
    await shoot(page, `dashboard-${theme}`);
  }
});

test('every other view', async ({ page }) => {
  test.setTimeout(120_000);
  await presetSettings(page, { theme: 'light' });
  const id = await someSensorId(page, 'critical');
  await page.goto(`/sensors/${id}?sort=failure_probability&dir=desc`);
  await expect(page.getByTestId('detail-failure')).toHaveText(/%/);
  await page.waitForTimeout(6_000);
  await shoot(page, 'sensors');
  await page.goto('/analytics?type=power&metric=mean&range=15m');
  await expect(page.getByRole('heading', { level: 1, name: 'Analytics' })).toBeVisible();
  await shoot(page, 'analytics');
  await page.goto('/optimization');
  await expect(page.getByRole('heading', { level: 1, name: 'Optimization' })).toBeVisible();
  await shoot(page, 'optimization');
  await page.goto('/alerts');
  await expect(page.getByRole('heading', { level: 1, name: 'Alerts' })).toBeVisible();
  await page
    .getByTestId('alert-row')
    .first()
    .waitFor({ timeout: 30_000 })
    .catch(() => undefined);
  await shoot(page, 'alerts');
  await page.goto('/site');
  await expect(page.getByTestId('site-mode')).toBeVisible();
  await shoot(page, 'site');
});

test('tablet width', async ({ page }) => {
  test.setTimeout(60_000);
  await page.setViewportSize({ width: 820, height: 1180 });
  await presetSettings(page, { theme: 'dark' });
  await page.goto('/sensors');
  await expect(page.getByTestId('sensor-row').first()).toBeVisible();
  await shoot(page, 'sensors-tablet-dark');
});
