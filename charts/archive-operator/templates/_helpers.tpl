{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "archive-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name for namespaced and cluster objects: release-chart, unless overridden. */}}
{{- define "archive-operator.fullname" -}}
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

{{- define "archive-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "archive-operator.labels" -}}
helm.sh/chart: {{ include "archive-operator.chart" . }}
{{ include "archive-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: archive-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods (stable across upgrades). */}}
{{- define "archive-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "archive-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "archive-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "archive-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's identity as the API server sees it (exempt from the ownership policy). */}}
{{- define "archive-operator.serviceAccountUsername" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "archive-operator.serviceAccountName" .) }}
{{- end }}

{{/* repository[:tag][@digest]; tag defaults to the chart's appVersion. Call with (dict "image" X "root" $). */}}
{{- define "archive-operator.imageRef" -}}
{{- $image := .image }}
{{- $ref := $image.repository }}
{{- $tag := default .root.Chart.AppVersion $image.tag }}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end }}
{{- if $image.digest }}{{ $ref = printf "%s@%s" $ref $image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* The namespaces the operator watches: none means the whole cluster. */}}
{{- define "archive-operator.watchNamespaces" -}}
{{- if not .Values.watch.allNamespaces }}
{{- join "," (uniq .Values.watch.namespaces) }}
{{- end }}
{{- end }}

{{/*
Everything the operator does inside a watched namespace. Rendered into one ClusterRole when it
watches all namespaces, or into one Role per watched namespace. No wildcards; no list or watch
on Secrets.
*/}}
{{- define "archive-operator.namespacedRules" -}}
# Its own resources: watch them, patch finalizers and kopf's annotations.
- apiGroups: [archive.auriora.io]
  resources: [archiveschedules]
  verbs: [get, list, watch, patch]
# ArchiveRuns: record scheduled runs (create) and trim the history (delete).
- apiGroups: [archive.auriora.io]
  resources: [archiveruns]
  verbs: [get, list, watch, patch, create, delete]
- apiGroups: [archive.auriora.io]
  resources: [archiveschedules/status, archiveruns/status]
  verbs: [get, patch]
# One CronJob per schedule entry, one Job per manual run or backfill.
- apiGroups: [batch]
  resources: [cronjobs, jobs]
  verbs: [get, list, watch, create, patch, delete]
# Run tracking: the runner's termination message is in the Pod's status; logs for diagnostics.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# Events on schedules and runs (kopf posts core/v1 Events; events.k8s.io for newer clients).
# Create only: neither aggregates events into series.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- if eq .Values.notifications.webhookSecretAccess "get" }}
# The one exception to "no Secrets": get (never list or watch) the Secret a schedule names in
# spec.notify.webhook.urlSecretRef, to read the webhook URL. See docs/chart.md, "Secrets".
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end }}
