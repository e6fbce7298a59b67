{{/*
Device ingest (`gridwatch ingest`) and grid ingestor (`gridwatch grid`): their env, Secret volumes and mounts.
Secrets reach them as env vars from secretKeyRef or as mounted files (gateway tokens: a mounted Secret is
updated in place, so a rotated token takes effect without a restart), never through the ConfigMap.
*/}}

{{/* "true" when a component serves its probes and /metrics on its HTTP port (else the metrics port). */}}
{{- define "energy-site.httpComponent" -}}
{{- $v := index .ctx.Values .component }}
{{- if or (eq .component "api") (eq .component "grid") (and (eq .component "ingest") $v.http.enabled) }}true{{ end }}
{{- end }}

{{- define "energy-site.tokenDir" -}}/etc/gridwatch/ingest-tokens{{- end }}
{{- define "energy-site.mqttCaDir" -}}/etc/gridwatch/mqtt-ca{{- end }}
{{- define "energy-site.mqttClientDir" -}}/etc/gridwatch/mqtt-client{{- end }}

{{/* Env of `gridwatch ingest`. */}}
{{- define "energy-site.ingestEnv" -}}
{{- $i := .Values.ingest }}
{{- $m := $i.mqtt }}
- name: GRIDWATCH_INGEST_HOST
  value: "0.0.0.0"
- name: GRIDWATCH_INGEST_PORT
  value: {{ $i.port | quote }}
- name: GRIDWATCH_INGEST_HTTP_ENABLED
  value: {{ $i.http.enabled | quote }}
- name: GRIDWATCH_INGEST_MAX_BODY_BYTES
  value: {{ $i.http.maxBodyBytes | int64 | quote }}
{{- if $i.tokenSecret.name }}
- name: GRIDWATCH_INGEST_TOKENS_FILE
  value: {{ printf "%s/%s" (include "energy-site.tokenDir" .) $i.tokenSecret.key | quote }}
{{- end }}
- name: GRIDWATCH_INGEST_MQTT_ENABLED
  value: {{ $m.enabled | quote }}
{{- if $m.enabled }}
- name: GRIDWATCH_INGEST_MQTT_HOST
  value: {{ $m.host | quote }}
- name: GRIDWATCH_INGEST_MQTT_PORT
  value: {{ $m.port | quote }}
- name: GRIDWATCH_INGEST_MQTT_USERNAME
  value: {{ $m.username | quote }}
{{- if $m.passwordSecret.name }}
- name: GRIDWATCH_INGEST_MQTT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $m.passwordSecret.name }}
      key: {{ $m.passwordSecret.key }}
{{- end }}
- name: GRIDWATCH_INGEST_MQTT_TLS
  value: {{ $m.tls.enabled | quote }}
{{- if and $m.tls.enabled $m.tls.caSecret.name }}
- name: GRIDWATCH_INGEST_MQTT_CA_FILE
  value: {{ printf "%s/%s" (include "energy-site.mqttCaDir" .) $m.tls.caSecret.key | quote }}
{{- end }}
{{- if and $m.tls.enabled $m.tls.clientSecret.name }}
- name: GRIDWATCH_INGEST_MQTT_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "energy-site.mqttClientDir" .) | quote }}
- name: GRIDWATCH_INGEST_MQTT_KEY_FILE
  value: {{ printf "%s/tls.key" (include "energy-site.mqttClientDir" .) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "energy-site.gridSourceEnv" -}}
{{- printf "GRIDWATCH_GRID_SOURCE_%s_TOKEN" (. | upper | replace "-" "_") }}
{{- end }}

{{/* Env of `gridwatch grid`: each source's token comes from its Secret and is substituted into the JSON list. */}}
{{- define "energy-site.gridEnv" -}}
{{- $g := .Values.grid }}
{{- $sources := list }}
{{- range $g.sources }}
{{- $s := dict "name" .name "adapter" .adapter "url" .url "interval_s" (.intervalSeconds | default 900) "region" (.region | default "GB") }}
{{- with .documentTypes }}{{ $_ := set $s "document_types" . }}{{ end }}
{{- if and .tokenSecret .tokenSecret.name }}{{ $_ := set $s "token" (printf "$(%s)" (include "energy-site.gridSourceEnv" .name)) }}{{ end }}
{{- $sources = append $sources $s }}
{{- end }}
- name: GRIDWATCH_GRID_HOST
  value: "0.0.0.0"
- name: GRIDWATCH_GRID_PORT
  value: {{ $g.port | quote }}
- name: GRIDWATCH_GRID_AUTOSTART
  value: {{ $g.autostart | quote }}
{{- if $g.tokenSecret.name }}
- name: GRIDWATCH_GRID_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $g.tokenSecret.name }}
      key: {{ $g.tokenSecret.key }}
{{- end }}
{{- range $g.sources }}
{{- if and .tokenSecret .tokenSecret.name }}
- name: {{ include "energy-site.gridSourceEnv" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .tokenSecret.name }}
      key: {{ .tokenSecret.key | default "token" }}
{{- end }}
{{- end }}
{{- /* after the token variables: Kubernetes substitutes $(VAR) only from variables defined earlier */}}
- name: GRIDWATCH_GRID_SOURCES
  value: {{ toJson $sources | quote }}
{{- end }}

{{/* Extra volume mounts of a component; call with (dict "ctx" $ "component" "ingest"). */}}
{{- define "energy-site.componentMounts" -}}
{{- if eq .component "ingest" }}
{{- $i := .ctx.Values.ingest }}
{{- if $i.tokenSecret.name }}
- name: ingest-tokens
  mountPath: {{ include "energy-site.tokenDir" .ctx }}
  readOnly: true
{{- end }}
{{- if and $i.mqtt.enabled $i.mqtt.tls.enabled $i.mqtt.tls.caSecret.name }}
- name: mqtt-ca
  mountPath: {{ include "energy-site.mqttCaDir" .ctx }}
  readOnly: true
{{- end }}
{{- if and $i.mqtt.enabled $i.mqtt.tls.enabled $i.mqtt.tls.clientSecret.name }}
- name: mqtt-client
  mountPath: {{ include "energy-site.mqttClientDir" .ctx }}
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{/* Extra volumes of a component; call with (dict "ctx" $ "component" "ingest"). */}}
{{- define "energy-site.componentVolumes" -}}
{{- if eq .component "ingest" }}
{{- $i := .ctx.Values.ingest }}
{{- if $i.tokenSecret.name }}
- name: ingest-tokens
  secret:
    secretName: {{ $i.tokenSecret.name }}
    items:
      - {key: {{ $i.tokenSecret.key }}, path: {{ $i.tokenSecret.key }}}
{{- end }}
{{- if and $i.mqtt.enabled $i.mqtt.tls.enabled $i.mqtt.tls.caSecret.name }}
- name: mqtt-ca
  secret:
    secretName: {{ $i.mqtt.tls.caSecret.name }}
    items:
      - {key: {{ $i.mqtt.tls.caSecret.key }}, path: {{ $i.mqtt.tls.caSecret.key }}}
{{- end }}
{{- if and $i.mqtt.enabled $i.mqtt.tls.enabled $i.mqtt.tls.clientSecret.name }}
- name: mqtt-client
  secret:
    secretName: {{ $i.mqtt.tls.clientSecret.name }}
{{- end }}
{{- end }}
{{- end }}
