// Friendly names for the API's schemas. Every shape is generated from the API (schema.d.ts, `make api-types`);
// nothing here declares a field by hand.
import type { components } from '@/lib/api/schema';

type Schemas = components['schemas'];

export type SensorState = Schemas['SensorState'];
export type SensorType = Schemas['SensorType'];
export type SensorStatus = Schemas['Status'];
export type SensorSource = Schemas['ReadingSource'];
export type SensorPage = Schemas['Page_SensorState_'];
export type DashboardStats = Schemas['DashboardStats'];
export type ProducerStatus = Schemas['ProducerStatus'];
export type ProducerInfo = Schemas['ProducerInfo'];
export type SensorChange = Schemas['LiveChange'];
export type CriticalAlert = Schemas['Alert'];
export type History = Schemas['HistorySeries'];
export type HistoryPoint = Schemas['HistoryPoint'];
export type HistoryMetric = History['metric'];
export type Suggestion = Schemas['Suggestion'];
export type Suggestions = Schemas['SuggestionPage'];
export type TariffInfo = Schemas['TariffInfo'];
export type EnergyCost = Schemas['EnergyCost'];
export type EnergyBucket = Schemas['EnergyBucket'];
export type SiteConfig = Schemas['SiteConfig'];
export type Forecast = Schemas['ForecastOut'];
export type ForecastPoint = Schemas['ForecastPoint'];
export type ForecastActual = Schemas['ActualOut'];
export type Alert = Schemas['AlertRecord'];
export type AlertState = Alert['state'];
export type AlertPage = Schemas['Page_AlertRecord_'];
export type SiteStatus = Schemas['SiteStatus'];
export type StoragePlan = Schemas['StoragePlan'];
export type ComponentStatus = Schemas['ComponentStatus'];
export type Condition = Schemas['Condition'];
export type Problem = Schemas['Problem'];
export type Gateway = Schemas['Gateway'];
export type GatewayPage = Schemas['Page_Gateway_'];
export type DeclaredSensor = Schemas['DeclaredSensor'];
export type DeclaredSensorPage = Schemas['Page_DeclaredSensor_'];
export type LiveEvent =
  | Schemas['SnapshotEvent']
  | Schemas['UpdateEvent']
  | Schemas['CriticalAlertsEvent']
  | Schemas['ProducerConnectedEvent']
  | Schemas['ProducerDisconnectedEvent']
  | Schemas['ErrorEvent'];

// Value lists for filters, checked against the generated unions (a value the API drops fails to compile).
export const SENSOR_TYPES = [
  'power',
  'current',
  'voltage',
  'temperature',
  'pressure',
  'vibration',
] as const satisfies readonly SensorType[];
export const SENSOR_STATUSES = ['normal', 'warning', 'critical'] as const satisfies readonly SensorStatus[];
export const SENSOR_SOURCES = ['simulated', 'http', 'mqtt', 'replay'] as const satisfies readonly SensorSource[];
export const SEVERITIES = ['critical', 'warning', 'info'] as const satisfies readonly CriticalAlert['severity'][];
export const SUGGESTION_KINDS = [
  'peak_shifting',
  'maintenance',
  'efficiency',
  'operational',
] as const satisfies readonly Suggestion['kind'][];
export const ALERT_STATES = ['active', 'acknowledged', 'cleared'] as const satisfies readonly AlertState[];
export const HISTORY_METRICS = [
  'mean',
  'min',
  'max',
  'last',
  'energy_kwh',
  'anomalies',
  'readings',
] as const satisfies readonly HistoryMetric[];
