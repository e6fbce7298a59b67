// The dashboard loads from the live stack and its values change as updates stream in.
import { expect, test } from '@playwright/test';

import { expectLive } from './helpers';

test('dashboard loads and its values change within 5 s', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expectLive(page);
  const readings = page.getByTestId('stat-readings');
  await expect(readings).toHaveText(/\d/);
  const power = page.getByTestId('stat-power');
  await expect(power).toHaveText(/\d.* kW/);
  const before = await readings.textContent();
  await expect
    .poll(() => readings.textContent(), { timeout: 5_000, message: 'readings total should move' })
    .not.toBe(before);
  const trend = page.getByRole('img', { name: /Total power over the last \d+ updates/ });
  await expect(trend).toBeVisible();
  await expect(page.getByTestId('status-count-normal')).toHaveText(/\d/);
});

test('views are deep-linkable and reachable from the keyboard', async ({ page }) => {
  await page.goto('/optimization');
  await expect(page.getByRole('heading', { level: 1, name: 'Optimization' })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Sensors' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/sensors$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Sensors' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Sensors' })).toBeVisible();
});

test('the site view says the stack is not running on Kubernetes', async ({ page }) => {
  await page.goto('/site');
  await expect(page.getByRole('heading', { level: 1, name: 'Site' })).toBeVisible();
  await expect(page.getByTestId('site-mode')).toHaveText('not running on Kubernetes');
});
