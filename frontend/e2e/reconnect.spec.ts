// Stop the API (or the producer) under the page and start it again: the UI shows it and recovers by itself.
import { expect, test } from '@playwright/test';

import { control, expectLive } from './helpers';

test('the UI reconnects by itself after the API restarts', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await expectLive(page);
  const badge = page.locator('.connection');

  await control('api', 'stop');
  await expect(badge).toHaveAttribute('data-state', 'reconnecting', { timeout: 20_000 });
  await expect(badge).toContainText('Reconnecting');

  await control('api', 'start');
  await expect(badge).toHaveAttribute('data-state', /live|producer-disconnected/, { timeout: 30_000 });
  await expectLive(page);
  // Data flows again without a reload.
  const readings = page.getByTestId('stat-readings');
  const before = await readings.textContent();
  await expect.poll(() => readings.textContent(), { timeout: 10_000 }).not.toBe(before);
});

test('the UI shows a disconnected producer and recovers when it is back', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await expectLive(page);
  const badge = page.locator('.connection');

  await control('simulator', 'stop');
  // The API reports the producer gone once its heartbeat is older than the timeout (4 s in the test stack).
  await expect(badge).toHaveAttribute('data-state', 'producer-disconnected', { timeout: 30_000 });
  await expect(badge).toContainText('Producer disconnected');

  await control('simulator', 'start');
  await expect(badge).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
});
