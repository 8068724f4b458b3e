{{/*
The chart name, overridable; used in the app.kubernetes.io/name label.
*/}}
{{- define "syft-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the operator's objects: "<release>-<chart>", or the release name alone when it
already contains the chart name. Truncated to 63 characters (the DNS label limit).
*/}}
{{- define "syft-monitor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "syft-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Namespace of the chart's namespaced objects.
*/}}
{{- define "syft-monitor.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object of the chart.
*/}}
{{- define "syft-monitor.labels" -}}
helm.sh/chart: {{ include "syft-monitor.chart" . }}
{{ include "syft-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: syft-monitor
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: name and instance only (selectors are immutable, so nothing that changes with a
chart version belongs here).
*/}}
{{- define "syft-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "syft-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector of the operator pod. The component is part of it because monitor pods carry the same
name label and, as instance, their SyftMonitor's name, which could equal the release name.
*/}}
{{- define "syft-monitor.operatorSelectorLabels" -}}
{{ include "syft-monitor.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Labels of the operator's objects.
*/}}
{{- define "syft-monitor.operatorLabels" -}}
{{ include "syft-monitor.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Name of the operator's ServiceAccount.
*/}}
{{- define "syft-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "syft-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image of the operator.
*/}}
{{- define "syft-monitor.image" -}}
{{- $image := .Values.operator.image }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}

{{/*
Image of monitor pods whose SyftMonitor names none.
*/}}
{{- define "syft-monitor.monitorImage" -}}
{{- $image := .Values.operator.image }}
{{- $monitor := .Values.operator.monitorImage }}
{{- $repository := default $image.repository $monitor.repository }}
{{- $tag := default (default .Chart.AppVersion $image.tag) $monitor.tag }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{/*
Namespaces the operator serves in namespaced scope.
*/}}
{{- define "syft-monitor.watchedNamespaces" -}}
{{- if .Values.operator.namespaces }}
{{- toYaml (uniq .Values.operator.namespaces) }}
{{- else }}
{{- toYaml (list (include "syft-monitor.namespace" .)) }}
{{- end }}
{{- end }}

{{/*
Namespace of the dashboard ConfigMaps.
*/}}
{{- define "syft-monitor.dashboardNamespace" -}}
{{- default (include "syft-monitor.namespace" .) .Values.dashboards.namespace }}
{{- end }}

{{/*
Scrape job names. Fixed, because the alerts (here and in the plain rules file) select by them.
*/}}
{{- define "syft-monitor.monitorJob" -}}syft-monitor{{- end }}
{{- define "syft-monitor.operatorJob" -}}syft-operator{{- end }}
