// Filter and search the sensors of the live stack, then open one.
import { expect, test } from '@playwright/test';

test('filter by status and type, search, and open a sensor showing its source', async ({ page }) => {
  await page.goto('/sensors');
  const count = page.getByTestId('sensor-count');
  await expect(count).toHaveText(/of [\d,]+ sensors/);
  const rows = page.getByTestId('sensor-row');
  await expect(rows.first()).toBeVisible();

  await page.getByLabel('Status').selectOption('normal');
  await expect(page).toHaveURL(/status=normal/);
  await expect(rows.first()).toHaveAttribute('data-status', 'normal');
  for (const status of await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))) {
    expect(status).toBe('normal');
  }

  await page.getByLabel('Type').selectOption('temperature');
  await expect(page).toHaveURL(/type=temperature/);
  await expect(rows.first().getByRole('cell').nth(2)).toHaveText('temperature');
  // every sensor of the live stack comes from its simulator
  await expect(rows.first().getByTestId('sensor-source')).toHaveText('Simulated');

  const firstId = (await rows.first().getByRole('link').textContent())?.trim() ?? '';
  const machine = firstId.split('-')[0] ?? '';
  expect(machine).not.toBe('');
  await page.getByRole('searchbox', { name: 'Search' }).fill(machine);
  await expect(page).toHaveURL(new RegExp(`q=${machine}`));
  await expect
    .poll(async () => (await rows.getByRole('link').allTextContents()).every((id) => id.includes(machine)))
    .toBe(true);
  await expect(rows.first().getByRole('link')).toContainText(machine);

  await rows.first().getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/sensors/${firstId}`));
  const panel = page.getByRole('complementary', { name: firstId });
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId('detail-failure')).toHaveText(/%/);
  await expect(panel.getByTestId('detail-score')).toHaveText(/\d/);
  await expect(panel.getByTestId('detail-source')).toHaveText('Simulated');
  await expect(panel.getByRole('img', { name: /Live readings of/ })).toBeVisible();

  // The deep link survives a reload (the API answers index.html for UI paths).
  await page.reload();
  await expect(page.getByRole('complementary', { name: firstId })).toBeVisible();
  await page.getByRole('link', { name: 'Close sensor details' }).click();
  await expect(page.getByRole('complementary')).toHaveCount(0);
});

test('sorting by failure probability puts the riskiest sensor first', async ({ page }) => {
  await page.goto('/sensors');
  await page.getByRole('button', { name: /Failure/ }).click();
  await expect(page.getByRole('columnheader', { name: /Failure/ })).toHaveAttribute('aria-sort', 'descending');
  await expect(page).toHaveURL(/sort=failure_probability/);
  const values = await page
    .getByTestId('sensor-row')
    .evaluateAll((rows) => rows.slice(0, 10).map((r) => parseFloat(r.children[7]?.textContent ?? '0')));
  expect(values.length).toBeGreaterThan(1);
  for (let i = 1; i < values.length; i += 1) expect(values[i - 1]).toBeGreaterThanOrEqual(values[i] ?? 0);
});
