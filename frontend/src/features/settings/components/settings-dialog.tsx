// Settings: API token (for alert actions) and theme, saved in localStorage. Prices and the time zone are the site's.
import { type FormEvent, useEffect, useRef, useState } from 'react';

import { type ThemeChoice, saveSettings, useSettings } from '@/lib/settings-store';
import { useSiteTimeZone } from '@/lib/site-time';

export function SettingsDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const settings = useSettings();
  const zone = useSiteTimeZone();
  const [token, setToken] = useState(settings.token);
  const [theme, setTheme] = useState<ThemeChoice>(settings.theme);

  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      setToken(settings.token);
      setTheme(settings.theme);
      if (typeof el.showModal === 'function') el.showModal();
      else el.setAttribute('open', '');
    } else if (!open && el.open) {
      if (typeof el.close === 'function') el.close();
      else el.removeAttribute('open');
    }
  }, [open, settings]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    saveSettings({ token: token.trim(), theme });
    onClose();
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="settings-title" onClose={onClose}>
      <form onSubmit={submit} className="dialog__form">
        <h2 id="settings-title">Settings</h2>
        <label className="field">
          <span>API token</span>
          <input
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby="token-help"
          />
        </label>
        <p id="token-help" className="muted small">
          Sent as <code>Authorization: Bearer …</code> to acknowledge and clear alerts; kept in this browser&apos;s
          local storage.
        </p>
        <p className="muted small" data-testid="settings-site-note">
          Costs are priced by the server with the site&apos;s tariff and currency, and times are shown in the
          site&apos;s time zone ({zone}); both come from the site&apos;s configuration, not this browser.
        </p>
        <fieldset className="segmented-field">
          <legend>Theme</legend>
          <div className="segmented">
            {(['system', 'light', 'dark'] as const).map((choice) => (
              <label key={choice} className={theme === choice ? 'segmented__item is-active' : 'segmented__item'}>
                <input
                  type="radio"
                  name="theme"
                  value={choice}
                  checked={theme === choice}
                  onChange={() => setTheme(choice)}
                />
                {choice}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="dialog__actions">
          <button type="button" className="button button--ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button--primary">
            Save
          </button>
        </div>
      </form>
    </dialog>
  );
}
