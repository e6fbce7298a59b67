// Shared steps for the browser tests: the stack's control port, settings, waiting for live data, axe checks.
import AxeBuilder from '@axe-core/playwright';
import { type Page, expect } from '@playwright/test';

export const CONTROL_URL = process.env.GRIDWATCH_E2E_CONTROL_URL ?? '';
export const TOKEN = process.env.GRIDWATCH_E2E_TOKEN ?? '';

/** Stop or start the API or the simulator process through the test stack's control port. */
export async function control(workload: 'api' | 'simulator', action: 'stop' | 'start'): Promise<void> {
  if (!CONTROL_URL) throw new Error('GRIDWATCH_E2E_CONTROL_URL is not set: run through tests/e2e/ui/test_ui.py');
  const response = await fetch(`${CONTROL_URL}/${workload}/${action}`, { method: 'POST' });
  if (!response.ok) throw new Error(`control ${workload} ${action} failed: HTTP ${response.status}`);
}

/** Preset the theme (and optionally the token) before the app's first paint. */
export async function presetSettings(
  page: Page,
  settings: { theme?: 'light' | 'dark'; token?: string },
): Promise<void> {
  await page.addInitScript((value) => {
    window.localStorage.setItem('gridwatch.settings', JSON.stringify({ theme: 'system', token: '', ...value }));
  }, settings);
}

export async function expectLive(page: Page, timeout = 20_000): Promise<void> {
  await expect(page.getByRole('status').filter({ hasText: /^Live|Producer disconnected/ })).toBeVisible({ timeout });
}

/** axe-core on the current page: no serious or critical WCAG 2.1 A/AA violation. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = serious.map(
    (v) =>
      `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes
        .map((n) => n.target.join(' '))
        .slice(0, 5)
        .join('\n    ')}`,
  );
  expect(report, `axe violations on ${what}`).toEqual([]);
}

/** A sensor id that exists on the live stack. */
export async function someSensorId(page: Page, status?: string): Promise<string> {
  const response = await page.request.get(`/api/v1/sensors?limit=1${status ? `&status=${status}` : ''}`);
  expect(response.ok()).toBe(true);
  const body = (await response.json()) as { items: { id: string }[] };
  const id = body.items[0]?.id;
  if (!id) throw new Error('the stack has no sensors yet');
  return id;
}
