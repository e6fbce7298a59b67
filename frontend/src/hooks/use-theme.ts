// Apply the chosen theme (system, light or dark) to <html data-theme> and report the effective one.
import { useEffect, useSyncExternalStore } from 'react';

import { useSettings } from '@/lib/settings-store';

const QUERY = '(prefers-color-scheme: dark)';

function subscribe(listener: () => void): () => void {
  if (typeof window.matchMedia !== 'function') return () => undefined;
  const media = window.matchMedia(QUERY);
  media.addEventListener('change', listener);
  return () => media.removeEventListener('change', listener);
}

function systemDark(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia(QUERY).matches;
}

export type EffectiveTheme = 'light' | 'dark';

export function useEffectiveTheme(): EffectiveTheme {
  const { theme } = useSettings();
  const dark = useSyncExternalStore(subscribe, systemDark, () => false);
  return theme === 'system' ? (dark ? 'dark' : 'light') : theme;
}

/** Keep `<html data-theme>` in sync; call once near the root. */
export function useApplyTheme(): EffectiveTheme {
  const theme = useEffectiveTheme();
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    document.documentElement.style.colorScheme = theme;
  }, [theme]);
  return theme;
}
