// Routes: one per view, each deep-linkable (filters live in the query string).
import { createBrowserRouter, type RouteObject } from 'react-router';

import { Layout } from '@/app/layout';
import { NotFound } from '@/app/routes/not-found';
import { AlertsView } from '@/features/alerts/components/alerts-view';
import { AnalyticsView } from '@/features/analytics/components/analytics-view';
import { DashboardView } from '@/features/dashboard/components/dashboard-view';
import { DevicesView } from '@/features/devices/components/devices-view';
import { OptimizationView } from '@/features/optimization/components/optimization-view';
import { SensorsView } from '@/features/sensors/components/sensors-view';
import { SiteView } from '@/features/site/components/site-view';
import { StorageView } from '@/features/storage/components/storage-view';

export const routes: RouteObject[] = [
  {
    path: '/',
    element: <Layout />,
    children: [
      { index: true, element: <DashboardView /> },
      { path: 'sensors', element: <SensorsView /> },
      { path: 'sensors/:sensorId', element: <SensorsView /> },
      { path: 'analytics', element: <AnalyticsView /> },
      { path: 'optimization', element: <OptimizationView /> },
      { path: 'storage', element: <StorageView /> },
      { path: 'alerts', element: <AlertsView /> },
      { path: 'devices', element: <DevicesView /> },
      { path: 'site', element: <SiteView /> },
      { path: '*', element: <NotFound /> },
    ],
  },
];

export function createRouter() {
  return createBrowserRouter(routes);
}
