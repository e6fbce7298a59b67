// Measure the sensors table with 10,000 sensors in Debian's Chromium: load time, DOM rows, scroll frame times,
// sort time. Serves frontend/dist with `vite preview` and answers /api/sensors with synthetic data.
// Usage: npm run build && npm run bench:table   (numbers, not a pass/fail test; timings depend on the machine)
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const SENSORS = Number(process.env.SENSORS ?? 10_000);
const TYPES = ['power', 'current', 'voltage', 'temperature', 'pressure', 'vibration'];
const items = Array.from({ length: SENSORS }, (_, i) => {
  const type = TYPES[i % TYPES.length];
  const machine = `m${String(Math.floor(i / 6)).padStart(5, '0')}`;
  const status = i % 50 === 0 ? 'critical' : i % 10 === 0 ? 'warning' : 'normal';
  return {
    ...{
      id: `${machine}-${type}-${i}`,
      machine,
      type,
      unit: 'kW',
      value: 10 + (i % 7),
      ts: 1.7e9,
      score: (i % 100) / 100,
    },
    ...{
      anomaly: status !== 'normal',
      failure_probability: (i % 97) / 97,
      status,
      kind: '',
      readings: 100,
      anomalies: 0,
    },
    ...{ energy_kwh: 1, baseline_mean: 10, baseline_std: 1, hazard: 0, updated_at: 1.7e9 },
  };
});
const body = JSON.stringify({ total: SENSORS, limit: SENSORS, offset: 0, items });

const server = await preview({ preview: { port: 0, host: '127.0.0.1' }, logLevel: 'silent' });
const base = server.resolvedUrls.local[0];
const browser = await chromium.launch({
  executablePath: process.env.GRIDWATCH_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.route('**/api/sensors?*', (r) => r.fulfill({ status: 200, contentType: 'application/json', body }));
  const t0 = Date.now();
  await page.goto(`${base}sensors`);
  await page.locator('[data-testid=sensor-row]').first().waitFor();
  console.log(`sensors: ${SENSORS}, payload ${(body.length / 1e6).toFixed(2)} MB`);
  console.log(`navigation to first rows: ${Date.now() - t0} ms`);
  console.log(`rows in the DOM: ${await page.locator('[data-testid=sensor-row]').count()}`);
  for (const delta of [120, 400, 1600]) {
    const stats = await page.evaluate(async (step) => {
      const el = document.querySelector('.table-scroll');
      el.scrollTop = 0;
      const frames = [];
      let last = performance.now();
      const start = last;
      while (performance.now() - start < 3000) {
        el.scrollTop += step;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((a, b) => a - b);
      const at = (q) => frames[Math.min(frames.length - 1, Math.floor(frames.length * q))].toFixed(1);
      return { frames: frames.length, p50: at(0.5), p95: at(0.95) };
    }, delta);
    console.log(`scroll ${delta} px/frame for 3 s: ${stats.frames} frames, p50 ${stats.p50} ms, p95 ${stats.p95} ms`);
  }
  const s0 = Date.now();
  await page.getByRole('button', { name: /Failure/ }).click();
  await page.waitForFunction(() => document.querySelector('th[aria-sort=descending]'));
  console.log(`sort by failure probability: ${Date.now() - s0} ms`);
} finally {
  await browser.close();
  await server.close();
}
