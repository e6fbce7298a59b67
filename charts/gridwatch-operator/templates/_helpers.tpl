{{- define "gridwatch-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gridwatch-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gridwatch-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gridwatch-operator.labels" -}}
helm.sh/chart: {{ include "gridwatch-operator.chart" . }}
{{ include "gridwatch-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gridwatch
app.kubernetes.io/component: operator
{{- end }}

{{- define "gridwatch-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gridwatch-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gridwatch-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gridwatch-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gridwatch-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "gridwatch-operator.workloadsImage" -}}
{{- printf "%s:%s" .Values.workloadsImage.repository (default .Chart.AppVersion .Values.workloadsImage.tag) }}
{{- end }}
