{{/*
Observability helpers: Prometheus Operator detection, scrape annotations, the site scoping of alert rules.
*/}}

{{/* "true" when the cluster serves the Prometheus Operator API (monitoring.coreos.com/v1). */}}
{{- define "energy-site.monitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}

{{/* "true" when a ServiceMonitor scrapes the site: the API exists and metrics.serviceMonitor.enabled. */}}
{{- define "energy-site.serviceMonitorOn" -}}
{{- $sm := (.Values.metrics | default dict).serviceMonitor | default dict }}
{{- if and (include "energy-site.monitoringApi" .) $sm.enabled }}true{{ end }}
{{- end }}

{{/*
Labels of a Prometheus Operator object (ServiceMonitor, PodMonitor, PrometheusRule): the chart's labels,
metrics.selectorLabels (what the cluster's Prometheus selects by; a default kube-prometheus-stack only picks
objects labelled release: <its release>) and the object's own additionalLabels, later ones winning.
Call with (dict "ctx" $ "extra" $sm.additionalLabels).
*/}}
{{- define "energy-site.monitoringLabels" -}}
{{- $metrics := .ctx.Values.metrics | default dict }}
{{- $labels := merge (dict) (.extra | default dict) ($metrics.selectorLabels | default dict) }}
{{- include "energy-site.labels" .ctx }}
{{- with $labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
prometheus.io/* pod annotations for Prometheus setups that discover pods by annotation; rendered only
when no ServiceMonitor scrapes the site (so a target is never scraped twice).
Call with (dict "ctx" $ "port" 9100):
  {{- with include "energy-site.scrapeAnnotations" (dict "ctx" $ "port" $port) }}{{ . | nindent 8 }}{{ end }}
*/}}
{{- define "energy-site.scrapeAnnotations" -}}
{{- if not (include "energy-site.serviceMonitorOn" .ctx) -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/*
Target relabelings shared by the ServiceMonitor endpoints: `job` comes from the component label
(jobLabel), so alert rules can say up{job="processor"}; `site` and `component` are added to `up`.
*/}}
{{- define "energy-site.metricsRelabelings" -}}
- sourceLabels: [__meta_kubernetes_service_label_gridwatch_io_site]
  targetLabel: site
- sourceLabels: [__meta_kubernetes_service_label_app_kubernetes_io_component]
  targetLabel: component
- sourceLabels: [__meta_kubernetes_pod_name]
  targetLabel: pod
{{- end }}
