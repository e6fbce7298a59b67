{{/* Chart name, overridable. */}}
{{- define "energy-site.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name prefix: the release name (which the operator sets to the site name), so objects
read <site>-processor, <site>-api. The EnergySite CRD limits site names to 40 characters.
*/}}
{{- define "energy-site.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* Site name: labels, topic prefix and Redis keys. */}}
{{- define "energy-site.site" -}}
{{- default .Release.Name .Values.site }}
{{- end }}

{{- define "energy-site.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "energy-site.labels" -}}
helm.sh/chart: {{ include "energy-site.chart" . }}
{{ include "energy-site.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gridwatch
gridwatch.io/site: {{ include "energy-site.site" . }}
{{- end }}

{{/* Selector labels: name and instance only (plus component, see componentSelectorLabels). */}}
{{- define "energy-site.selectorLabels" -}}
app.kubernetes.io/name: {{ include "energy-site.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component; call with (dict "ctx" $ "component" "processor"). */}}
{{- define "energy-site.componentLabels" -}}
{{ include "energy-site.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "energy-site.componentSelectorLabels" -}}
{{ include "energy-site.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "energy-site.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "energy-site.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Workloads image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "energy-site.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Components that run (name -> values), in a fixed order. */}}
{{- define "energy-site.components" -}}
{{- $c := list }}
{{- if .Values.simulator.enabled }}{{ $c = append $c "simulator" }}{{ end }}
{{- $c = append $c "processor" }}
{{- if .Values.history.enabled }}{{ $c = concat $c (list "history" "alerts") }}{{ end }}
{{- if .Values.storage.enabled }}{{ $c = concat $c (list "storage" "rebalancer") }}{{ end }}
{{- if .Values.ingest.enabled }}{{ $c = append $c "ingest" }}{{ end }}
{{- if .Values.grid.enabled }}{{ $c = append $c "grid" }}{{ end }}
{{- $c = append $c "api" }}
{{- join "," $c }}
{{- end }}

{{/* Redis URL; the password, if any, comes from GRIDWATCH_REDIS_PASSWORD set from a Secret. */}}
{{- define "energy-site.redisUrl" -}}
{{- $r := .Values.redis }}
{{- $scheme := ternary "rediss" "redis" $r.tls }}
{{- if $r.passwordSecret.name }}
{{- printf "%s://:$(GRIDWATCH_REDIS_PASSWORD)@%s:%d/%d" $scheme $r.host (int $r.port) (int $r.db) }}
{{- else }}
{{- printf "%s://%s:%d/%d" $scheme $r.host (int $r.port) (int $r.db) }}
{{- end }}
{{- end }}

{{/* Alert routes without their URLs: each URL is an env var GRIDWATCH_ALERTS_ROUTE_<NAME>_URL from its Secret. */}}
{{- define "energy-site.alertRoutes" -}}
{{- $out := list }}
{{- range .Values.alerts.routes }}
{{- $out = append $out (dict "name" .name "minSeverity" (default "warning" .minSeverity) "urlEnv" (include "energy-site.routeEnv" .name)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{- define "energy-site.routeEnv" -}}
{{- printf "GRIDWATCH_ALERTS_ROUTE_%s_URL" (. | upper | replace "-" "_") }}
{{- end }}

{{/* Env vars from Secrets, shared by the workloads; the password must come before the URL using it. */}}
{{- define "energy-site.secretEnv" -}}
{{- if .Values.redis.passwordSecret.name }}
- name: GRIDWATCH_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.passwordSecret.name }}
      key: {{ .Values.redis.passwordSecret.key }}
{{- end }}
- name: GRIDWATCH_REDIS_URL
  value: {{ include "energy-site.redisUrl" . | quote }}
{{- if .Values.history.enabled }}
- name: GRIDWATCH_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.history.passwordSecret.name }}
      key: {{ .Values.history.passwordSecret.key }}
{{- end }}
{{- range .Values.alerts.routes }}
- name: {{ include "energy-site.routeEnv" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .webhookSecret.name }}
      key: {{ default "url" .webhookSecret.key }}
{{- end }}
{{- end }}
