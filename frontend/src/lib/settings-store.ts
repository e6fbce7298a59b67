// Operator settings kept in localStorage: API token and theme; observable by React. Prices, currency and the time
// zone are the site's, from the API (GET /api/v1/analytics/energy, /api/v1/site/config), never per browser.
import { useSyncExternalStore } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';

export interface Settings {
  /** Bearer token: for writes (alert ack/clear), and for reads and /ws when the API requires OIDC tokens. */
  token: string;
  theme: ThemeChoice;
}

export const DEFAULT_SETTINGS: Settings = { token: '', theme: 'system' };
export const SETTINGS_KEY = 'gridwatch.settings';

type Listener = () => void;
const listeners = new Set<Listener>();
let cached: Settings | null = null;

function read(): Settings {
  try {
    const raw = window.localStorage.getItem(SETTINGS_KEY);
    if (!raw) return DEFAULT_SETTINGS;
    const parsed = JSON.parse(raw) as Partial<Settings>;
    return {
      token: typeof parsed.token === 'string' ? parsed.token : DEFAULT_SETTINGS.token,
      theme: parsed.theme === 'light' || parsed.theme === 'dark' ? parsed.theme : 'system',
    };
  } catch {
    return DEFAULT_SETTINGS;
  }
}

export function getSettings(): Settings {
  cached ??= read();
  return cached;
}

export function saveSettings(patch: Partial<Settings>): Settings {
  const next = { ...getSettings(), ...patch };
  cached = next;
  try {
    window.localStorage.setItem(SETTINGS_KEY, JSON.stringify(next));
  } catch {
    // storage full or disabled: the settings still apply to this tab
  }
  for (const listener of listeners) listener();
  return next;
}

function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  const onStorage = (event: StorageEvent) => {
    if (event.key === SETTINGS_KEY) {
      cached = null;
      listener();
    }
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

/** Forget the cached copy (tests change localStorage directly). */
export function resetSettingsCache(): void {
  cached = null;
}

export function useSettings(): Settings {
  return useSyncExternalStore(subscribe, getSettings, () => DEFAULT_SETTINGS);
}

export const OPEN_SETTINGS_EVENT = 'gridwatch:open-settings';

/** Ask the app shell to open the settings dialog (any view may need the token). */
export function openSettings(): void {
  window.dispatchEvent(new Event(OPEN_SETTINGS_EVENT));
}
