// axe-core on every view in both themes: no serious or critical violations.
import { expect, test } from '@playwright/test';

import { expectAccessible, presetSettings, someSensorId } from './helpers';

const VIEWS = [
  { path: '/', heading: 'Dashboard' },
  { path: '/sensors', heading: 'Sensors' },
  { path: '/analytics?type=power', heading: 'Analytics' },
  { path: '/optimization', heading: 'Optimization' },
  { path: '/alerts', heading: 'Alerts' },
  { path: '/site', heading: 'Site' },
];

for (const theme of ['light', 'dark'] as const) {
  test.describe(`${theme} theme`, () => {
    for (const view of VIEWS) {
      test(`${view.heading} has no serious accessibility violations`, async ({ page }) => {
        await presetSettings(page, { theme });
        await page.goto(view.path);
        await expect(page.getByRole('heading', { level: 1, name: view.heading })).toBeVisible();
        await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
        await page.waitForLoadState('networkidle').catch(() => undefined);
        await page.waitForTimeout(1_000);
        await expectAccessible(page, `${view.path} (${theme})`);
      });
    }

    test('sensor detail and settings dialog have no serious accessibility violations', async ({ page }) => {
      await presetSettings(page, { theme });
      const id = await someSensorId(page);
      await page.goto(`/sensors/${id}`);
      await expect(page.getByRole('complementary', { name: id })).toBeVisible();
      await expect(page.getByTestId('detail-failure')).toHaveText(/%/);
      await expectAccessible(page, `sensor detail (${theme})`);
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
      await expectAccessible(page, `settings dialog (${theme})`);
    });
  });
}

test('the layout holds at tablet width', async ({ page }) => {
  await page.setViewportSize({ width: 820, height: 1180 });
  for (const view of VIEWS) {
    await page.goto(view.path);
    await expect(page.getByRole('heading', { level: 1, name: view.heading })).toBeVisible();
    // Nothing but deliberately scrollable tables may be wider than the viewport.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${view.path} overflows horizontally`).toBeLessThanOrEqual(0);
  }
});
