// The shell: skip link, header with navigation, connection state, theme toggle and settings, then the view.
import { useEffect, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';

import { SettingsDialog } from '@/features/settings/components/settings-dialog';
import { ConnectionBadge } from '@/components/connection-badge';
import { useSiteTimeZoneSync } from '@/hooks/use-site-config';
import { useApplyTheme } from '@/hooks/use-theme';
import { OPEN_SETTINGS_EVENT, saveSettings } from '@/lib/settings-store';
import { useSiteTimeZone } from '@/lib/site-time';

const NAV = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/sensors', label: 'Sensors' },
  { to: '/analytics', label: 'Analytics' },
  { to: '/optimization', label: 'Optimization' },
  { to: '/storage', label: 'Storage' },
  { to: '/alerts', label: 'Alerts' },
  { to: '/devices', label: 'Devices' },
  { to: '/site', label: 'Site' },
];

export function Layout() {
  const theme = useApplyTheme();
  const [settingsOpen, setSettingsOpen] = useState(false);
  const location = useLocation();
  useSiteTimeZoneSync();
  const zone = useSiteTimeZone();

  useEffect(() => {
    const open = () => setSettingsOpen(true);
    window.addEventListener(OPEN_SETTINGS_EVENT, open);
    return () => window.removeEventListener(OPEN_SETTINGS_EVENT, open);
  }, []);

  // Name the page after the view, so tabs and screen readers say where you are.
  useEffect(() => {
    const item = [...NAV]
      .reverse()
      .find((n) => (n.end ? location.pathname === n.to : location.pathname.startsWith(n.to)));
    document.title = `${item?.label ?? 'Not found'} · Gridwatch`;
  }, [location.pathname]);

  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__brand">
          <span className="logo" aria-hidden="true">
            ⚡
          </span>
          <span className="brand-name">Gridwatch</span>
        </div>
        <nav className="topnav" aria-label="Views">
          {NAV.map((item) => (
            <NavLink key={item.to} to={item.to} end={item.end} className="topnav__link">
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar__tools">
          <span className="muted small" title="Times are shown in the site's time zone" data-testid="site-zone">
            {zone}
          </span>
          <ConnectionBadge />
          <button
            type="button"
            className="icon-button"
            onClick={() => saveSettings({ theme: theme === 'dark' ? 'light' : 'dark' })}
            aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
            title={theme === 'dark' ? 'Light theme' : 'Dark theme'}
          >
            <span aria-hidden="true">{theme === 'dark' ? '☀' : '☾'}</span>
          </button>
          <button type="button" className="button button--ghost" onClick={() => setSettingsOpen(true)}>
            Settings
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1} className="content">
        {/* every time on the page is formatted in the site's zone: re-render the view when it becomes known */}
        <Outlet key={zone} />
      </main>
      <SettingsDialog open={settingsOpen} onClose={() => setSettingsOpen(false)} />
    </div>
  );
}
