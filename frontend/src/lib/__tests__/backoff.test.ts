// Backoff delays grow by the factor, stop at the cap, and jitter stays within its band.
import { describe, expect, it } from 'vitest';

import { backoffDelay } from '@/lib/backoff';

const NO_JITTER = { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0 };

describe('backoffDelay', () => {
  it('doubles per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, NO_JITTER))).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it('keeps full jitter between half the delay and the delay', () => {
    const options = { ...NO_JITTER, jitter: 1 };
    expect(backoffDelay(2, options, () => 0)).toBe(1000);
    expect(backoffDelay(2, options, () => 1)).toBe(2000);
    expect(backoffDelay(2, options, () => 0.5)).toBe(1500);
  });
});
