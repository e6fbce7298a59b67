// Acknowledge an alert from the UI, with the bearer token entered in Settings.
import { expect, test } from '@playwright/test';

import { TOKEN } from './helpers';

test('set the token in Settings and acknowledge an active alert', async ({ page }) => {
  expect(TOKEN, 'GRIDWATCH_E2E_TOKEN').not.toBe('');
  await page.goto('/alerts');
  await expect(page.getByRole('heading', { level: 1, name: 'Alerts' })).toBeVisible();

  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.getByLabel('API token').fill(TOKEN);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('gridwatch.settings') ?? '{}').token)).toBe(TOKEN);

  // The simulator injects faults; the alert engine raises alerts for them within a few seconds.
  const rows = page.getByTestId('alert-row');
  await expect(rows.first()).toBeVisible({ timeout: 60_000 });
  const row = rows.first();
  const id = await row.getAttribute('data-alert-id');
  await row.getByRole('button', { name: /^Acknowledge alert on/ }).click();
  await expect(page.getByRole('status').filter({ hasText: /acknowledged\.$/ })).toBeVisible();
  await expect(page.locator(`[data-testid="alert-row"][data-alert-id="${id}"]`)).toHaveCount(0);

  await page.getByRole('link', { name: 'Acknowledged' }).click();
  await expect(page).toHaveURL(/state=acknowledged/);
  await expect(page.locator(`[data-testid="alert-row"][data-alert-id="${id}"]`)).toBeVisible();
});
