// Stop the API under the page and start it again: the UI shows it and reconnects by itself.
import { expect, test } from '@playwright/test';

import { controlApi, expectLive } from './helpers';

test('the UI reconnects by itself after the API restarts', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await expectLive(page);
  const badge = page.locator('.connection');

  await controlApi('stop');
  await expect(badge).toHaveAttribute('data-state', 'reconnecting', { timeout: 20_000 });
  await expect(badge).toContainText('Reconnecting');

  await controlApi('start');
  await expect(badge).toHaveAttribute('data-state', /live|producer-disconnected/, { timeout: 30_000 });
  await expectLive(page);
  // Data flows again without a reload.
  const readings = page.getByTestId('stat-readings');
  const before = await readings.textContent();
  await expect.poll(() => readings.textContent(), { timeout: 10_000 }).not.toBe(before);
});
