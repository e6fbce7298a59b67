// Shapes of the Gridwatch API's JSON (see /openapi.json); kept in one place so every feature agrees.

export type SensorType = 'power' | 'current' | 'voltage' | 'temperature' | 'pressure' | 'vibration';
export type SensorStatus = 'normal' | 'warning' | 'critical';

export const SENSOR_TYPES: readonly SensorType[] = [
  'power',
  'current',
  'voltage',
  'temperature',
  'pressure',
  'vibration',
];
export const SENSOR_STATUSES: readonly SensorStatus[] = ['normal', 'warning', 'critical'];

export interface SensorState {
  id: string;
  machine: string;
  type: SensorType;
  unit: string;
  value: number;
  ts: number;
  score: number;
  anomaly: boolean;
  failure_probability: number;
  status: SensorStatus;
  kind: string;
  readings: number;
  anomalies: number;
  energy_kwh: number;
  baseline_mean: number;
  baseline_std: number;
  hazard: number;
  updated_at: number;
}

export interface SensorPage {
  total: number;
  limit: number;
  offset: number;
  items: SensorState[];
}

export interface DashboardStats {
  site: string;
  total_sensors: number;
  total_power_kw: number;
  energy_kwh: number;
  readings_total: number;
  anomalies_total: number;
  status_counts: Record<SensorStatus, number>;
  active_anomalies: number;
  top_failure_probabilities: { id: string; failure_probability: number }[];
  last_reading_ts: number | null;
  updated_at: number | null;
}

export interface ProducerInfo {
  producer: string;
  ts: number;
  received_at: number;
  sensors: number;
  readings_sent: number;
  rate: number;
  age_seconds: number;
  connected: boolean;
}

export interface ProducerStatus {
  connected: boolean;
  last_heartbeat: number | null;
  timeout_seconds: number;
  producers: ProducerInfo[];
}

export interface SensorChange {
  id: string;
  status: SensorStatus;
  value: number;
  failure_probability: number;
  kind: string;
}

export interface CriticalAlert {
  sensor_id: string;
  machine: string;
  type: SensorType;
  ts: number;
  severity: string;
  kind: string;
  score: number;
  failure_probability: number;
  value: number;
  message: string;
}

export type LiveEvent =
  | { type: 'snapshot'; ts?: number; stats: DashboardStats; producer: ProducerStatus; sensors: SensorState[] }
  | {
      type: 'update';
      ts: number;
      stats: DashboardStats;
      producer: ProducerStatus;
      readings: number;
      anomalies: number;
      changed: SensorChange[];
    }
  | { type: 'critical_alerts'; ts?: number; alerts: CriticalAlert[] }
  | { type: 'producer_disconnected' | 'producer_connected'; ts?: number; producer: ProducerStatus }
  | { type: 'error'; ts?: number; detail: string };

export type HistoryMetric = 'mean' | 'min' | 'max' | 'last' | 'energy_kwh' | 'anomalies' | 'readings';
export const HISTORY_METRICS: readonly HistoryMetric[] = [
  'mean',
  'min',
  'max',
  'last',
  'energy_kwh',
  'anomalies',
  'readings',
];

export interface HistoryPoint {
  ts: number;
  value: number;
}

export interface History {
  sensor: string | null;
  type: SensorType | null;
  metric: HistoryMetric;
  from: number;
  to: number;
  step: number;
  points: HistoryPoint[];
}

export interface Suggestion {
  id: string;
  kind: string;
  title: string;
  description: string;
  priority: number;
  machine: string | null;
  sensors: string[];
  evidence: unknown;
  estimated_saving_kwh: number;
  estimated_saving_currency: number;
}

export interface Suggestions {
  generated_at: number;
  currency: string;
  items: Suggestion[];
}

export type AlertState = 'active' | 'acknowledged' | 'cleared';
export const ALERT_STATES: readonly AlertState[] = ['active', 'acknowledged', 'cleared'];

export interface Alert {
  id: number | string;
  fingerprint: string;
  rule: string;
  sensor_id: string;
  machine: string;
  severity: string;
  state: AlertState;
  message: string;
  value: number | null;
  count: number;
  first_seen: number | string;
  last_seen: number | string;
  acknowledged_at: number | string | null;
  acknowledged_by: string | null;
  cleared_at: number | string | null;
}

export interface AlertPage {
  total: number;
  items: Alert[];
}

export interface ComponentStatus {
  desired: number;
  ready: number;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ScalingDecision {
  time?: string | number;
  from?: number;
  to?: number;
  lag?: number;
  reason?: string;
}

/** GET /api/site on Kubernetes: a summary of the EnergySite's status, as the operator writes it. */
export interface KubernetesSite {
  mode: 'kubernetes';
  kubernetes?: true;
  site?: string;
  /** Older name of `site`. */
  name?: string;
  namespace: string;
  generation?: number | null;
  observedGeneration?: number | null;
  ready?: boolean;
  paused?: boolean;
  conditions: Condition[];
  components: Record<string, ComponentStatus>;
  processors?: string | null;
  consumerLag?: number | null;
  helm?: { revision?: number; chartVersion?: string; error?: string } | null;
  helmRevision?: number | null;
  scaling?: { replicas?: number; lastScaleTime?: string; lastDecision?: ScalingDecision } | null;
  lastScalingDecision?: ScalingDecision | null;
  sensors?: number | null;
  autoscaling?: boolean;
}

export type SiteStatus = { mode: 'local'; kubernetes: false; message: string } | KubernetesSite;
