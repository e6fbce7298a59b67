import { describe, expect, it } from 'vitest';

import { patchSearch } from '@/hooks/use-search-patch';

describe('patchSearch', () => {
  it('sets, replaces and deletes keys, keeping the others', () => {
    const prev = new URLSearchParams('state=active&offset=100&q=pump');
    const next = patchSearch(prev, { state: 'cleared', offset: null, q: '', limit: 50, sensor: undefined });
    expect(next.toString()).toBe('state=cleared&limit=50');
    expect(prev.toString()).toBe('state=active&offset=100&q=pump');
  });
});
