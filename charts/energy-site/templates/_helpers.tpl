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

{{/* Site name: labels, the EnergySite the API reads. */}}
{{- define "energy-site.site" -}}
{{- default .Release.Name .Values.site }}
{{- end }}

{{/*
Site identity (GRIDWATCH_SITE): topic prefix and consumer groups (unless kafka.topicPrefix), Redis keys, PostgreSQL
rows, the `site` label of metrics. <namespace>.<site> unless siteId is set, so same-named sites in two namespaces
never share state; the operator sets siteId (docs/security.md, "Site isolation").
*/}}
{{- define "energy-site.siteId" -}}
{{- default (printf "%s.%s" .Release.Namespace (include "energy-site.site" .)) .Values.siteId }}
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
{{- if and .Values.forecaster.enabled .Values.history.enabled }}{{ $c = append $c "forecaster" }}{{ end }}
{{- if .Values.storage.enabled }}{{ $c = concat $c (list "storage" "rebalancer") }}{{ end }}
{{- if .Values.ingest.enabled }}{{ $c = append $c "ingest" }}{{ end }}
{{- if .Values.grid.enabled }}{{ $c = append $c "grid" }}{{ end }}
{{- $c = append $c "api" }}
{{- join "," $c }}
{{- end }}

{{/* Redis URL, without credentials: GRIDWATCH_REDIS_USERNAME / GRIDWATCH_REDIS_PASSWORD (from a Secret) carry them. */}}
{{- define "energy-site.redisUrl" -}}
{{- $r := .Values.redis }}
{{- $scheme := ternary "rediss" "redis" $r.tls }}
{{- printf "%s://%s:%d/%d" $scheme $r.host (int $r.port) (int $r.db) }}
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

{{- define "energy-site.kafkaCaDir" -}}/etc/gridwatch/kafka-ca{{- end }}
{{- define "energy-site.kafkaClientDir" -}}/etc/gridwatch/kafka-client{{- end }}

{{/* Kafka TLS and SASL for every workload (gridwatch.common.kafka.security_config reads these). */}}
{{- define "energy-site.kafkaEnv" -}}
{{- $k := .Values.kafka }}
{{- if or $k.tls.enabled $k.sasl.enabled }}
- name: GRIDWATCH_KAFKA_SECURITY_PROTOCOL
  value: {{ printf "%s%s" (ternary "SASL_" "" $k.sasl.enabled) (ternary "SSL" "PLAINTEXT" $k.tls.enabled) | quote }}
{{- end }}
{{- if $k.tls.enabled }}
{{- if $k.tls.caSecret.name }}
- name: GRIDWATCH_KAFKA_SSL_CA_LOCATION
  value: {{ printf "%s/%s" (include "energy-site.kafkaCaDir" .) $k.tls.caSecret.key | quote }}
{{- end }}
{{- if $k.tls.clientSecret.name }}
- name: GRIDWATCH_KAFKA_SSL_CERTIFICATE_LOCATION
  value: {{ printf "%s/tls.crt" (include "energy-site.kafkaClientDir" .) | quote }}
- name: GRIDWATCH_KAFKA_SSL_KEY_LOCATION
  value: {{ printf "%s/tls.key" (include "energy-site.kafkaClientDir" .) | quote }}
{{- end }}
- name: GRIDWATCH_KAFKA_SSL_VERIFY_HOSTNAME
  value: {{ $k.tls.verifyHostname | quote }}
{{- end }}
{{- if $k.sasl.enabled }}
- name: GRIDWATCH_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: GRIDWATCH_KAFKA_SASL_USERNAME
  value: {{ $k.sasl.username | quote }}
- name: GRIDWATCH_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.passwordSecret.name }}
      key: {{ $k.sasl.passwordSecret.key }}
{{- end }}
{{- end }}

{{/* Kafka CA and client certificate mounts, for every workload. */}}
{{- define "energy-site.kafkaMounts" -}}
{{- $t := .Values.kafka.tls }}
{{- if and $t.enabled $t.caSecret.name }}
- name: kafka-ca
  mountPath: {{ include "energy-site.kafkaCaDir" . }}
  readOnly: true
{{- end }}
{{- if and $t.enabled $t.clientSecret.name }}
- name: kafka-client
  mountPath: {{ include "energy-site.kafkaClientDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "energy-site.kafkaVolumes" -}}
{{- $t := .Values.kafka.tls }}
{{- if and $t.enabled $t.caSecret.name }}
- name: kafka-ca
  secret:
    secretName: {{ $t.caSecret.name }}
    items:
      - {key: {{ $t.caSecret.key }}, path: {{ $t.caSecret.key }}}
{{- end }}
{{- if and $t.enabled $t.clientSecret.name }}
- name: kafka-client
  secret:
    secretName: {{ $t.clientSecret.name }}
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- end }}
{{- end }}

{{/* Env vars from Secrets, shared by the workloads. */}}
{{- define "energy-site.secretEnv" -}}
{{- include "energy-site.kafkaEnv" . }}
{{- if .Values.redis.passwordSecret.name }}
- name: GRIDWATCH_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.passwordSecret.name }}
      key: {{ .Values.redis.passwordSecret.key }}
{{- end }}
- name: GRIDWATCH_REDIS_URL
  value: {{ include "energy-site.redisUrl" . | quote }}
{{- with .Values.redis.username }}
- name: GRIDWATCH_REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- range .Values.alerts.routes }}
- name: {{ include "energy-site.routeEnv" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .webhookSecret.name }}
      key: {{ default "url" .webhookSecret.key }}
{{- end }}
{{- end }}

{{/*
PostgreSQL login of one component (ctx: dict "ctx" $ "component" <name>): its own role from history.roles.<name>
(user and password Secret; `gridwatch migrate` gave it its grants), else the owner's history.user/passwordSecret.
The simulator and the grid ingestor never use PostgreSQL and get no password.
*/}}
{{- define "energy-site.postgresEnv" -}}
{{- $h := .ctx.Values.history }}
{{- if and $h.enabled (not (has .component (list "simulator" "grid"))) }}
{{- $role := index $h.roles .component | default dict }}
{{- if $role.user }}
- name: GRIDWATCH_POSTGRES_USER
  value: {{ $role.user | quote }}
- name: GRIDWATCH_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $role.passwordSecret.name }}
      key: {{ default "password" $role.passwordSecret.key }}
{{- else }}
- name: GRIDWATCH_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $h.passwordSecret.name }}
      key: {{ $h.passwordSecret.key }}
{{- end }}
{{- end }}
{{- end }}

{{/* history.roles as GRIDWATCH_POSTGRES_ROLES for `gridwatch migrate`: <component>=<user>,... in a fixed order. */}}
{{- define "energy-site.postgresRoles" -}}
{{- $pairs := list }}
{{- range $component := keys .Values.history.roles | sortAlpha }}
{{- $role := index $.Values.history.roles $component }}
{{- if $role.user }}{{ $pairs = append $pairs (printf "%s=%s" $component $role.user) }}{{ end }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
