// Vitest setup: jest-dom matchers, and stand-ins for browser APIs jsdom lacks (canvas charts, ResizeObserver).
import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

import { resetSettingsCache } from '@/lib/settings-store';

// uPlot draws on a canvas, which jsdom does not implement; tests check the data we hand it instead.
vi.mock('uplot', () => {
  class FakePlot {
    static paths = { stepped: () => undefined };
    data: unknown;
    constructor(_opts: unknown, data: unknown, target: HTMLElement) {
      this.data = data;
      target.dataset.points = String((data as unknown[][])[0]?.length ?? 0);
      this.target = target;
    }
    target: HTMLElement;
    setData(data: unknown) {
      this.data = data;
      this.target.dataset.points = String((data as unknown[][])[0]?.length ?? 0);
    }
    setSize() {}
    destroy() {}
  }
  return { default: FakePlot };
});

class NoopResizeObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
}
globalThis.ResizeObserver ??= NoopResizeObserver as unknown as typeof ResizeObserver;

if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      addListener: () => undefined,
      removeListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

afterEach(() => {
  cleanup();
  window.localStorage.clear();
  resetSettingsCache();
});
