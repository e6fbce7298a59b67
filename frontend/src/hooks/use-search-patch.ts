// The URL's query string as view state: read it, and patch some keys (empty values remove a key) without a history entry.
import { useCallback } from 'react';
import { useSearchParams } from 'react-router';

export type SearchPatch = Record<string, string | number | null | undefined>;

/** A copy of `prev` with the patch applied: null, undefined and '' delete the key. */
export function patchSearch(prev: URLSearchParams, patch: SearchPatch): URLSearchParams {
  const next = new URLSearchParams(prev);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === undefined || value === '') next.delete(key);
    else next.set(key, String(value));
  }
  return next;
}

/** `[params, patch]`: patch replaces the current history entry, so filters do not flood the back button. */
export function useSearchPatch(): [URLSearchParams, (patch: SearchPatch) => void] {
  const [params, setParams] = useSearchParams();
  const patch = useCallback(
    (changes: SearchPatch) => setParams((prev) => patchSearch(prev, changes), { replace: true }),
    [setParams],
  );
  return [params, patch];
}
