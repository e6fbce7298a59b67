// Settings: API token (for alert actions), tariff and currency (dashboard cost) and theme; saved in localStorage.
import { type FormEvent, useEffect, useRef, useState } from 'react';

import { type ThemeChoice, saveSettings, useSettings } from '@/lib/settings-store';

export function SettingsDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const settings = useSettings();
  const [token, setToken] = useState(settings.token);
  const [tariff, setTariff] = useState(String(settings.tariff));
  const [currency, setCurrency] = useState(settings.currency);
  const [theme, setTheme] = useState<ThemeChoice>(settings.theme);

  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      setToken(settings.token);
      setTariff(String(settings.tariff));
      setCurrency(settings.currency);
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
    const price = Number(tariff);
    saveSettings({
      token: token.trim(),
      tariff: Number.isFinite(price) && price >= 0 ? price : settings.tariff,
      currency: currency.trim().toUpperCase(),
      theme,
    });
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
        <div className="field-row">
          <label className="field">
            <span>Tariff per kWh</span>
            <input type="number" min={0} step="0.001" value={tariff} onChange={(e) => setTariff(e.target.value)} />
          </label>
          <label className="field">
            <span>Currency</span>
            <input
              type="text"
              maxLength={3}
              placeholder="from the API"
              value={currency}
              onChange={(e) => setCurrency(e.target.value)}
            />
          </label>
        </div>
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
