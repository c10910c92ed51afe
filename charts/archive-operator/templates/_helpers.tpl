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
The Lease that elects the operator's leader: leaderElection.leaseName, else the full name (two
releases in one namespace never share one).
*/}}
{{- define "archive-operator.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "archive-operator.fullname" .) -}}
{{- end }}

{{/*
Fails the render unless the election's timings keep the bound of the operator's
leader_election.py: retryPeriod x 1.2 < renewDeadline < leaseDuration - 1 s (a leader that
cannot renew exits before a standby may take over), and unless several replicas are elected.
*/}}
{{- define "archive-operator.checkLeaderElection" -}}
{{- $le := .Values.leaderElection }}
{{- if $le.enabled }}
{{- if not (gt (mulf 1.0 $le.renewDeadlineSeconds) (mulf 1.2 $le.retryPeriodSeconds)) }}
{{- fail (printf "leaderElection.renewDeadlineSeconds (%v) must exceed 1.2 x retryPeriodSeconds (%v)" $le.renewDeadlineSeconds $le.retryPeriodSeconds) }}
{{- end }}
{{- if not (gt (mulf 1.0 $le.leaseDurationSeconds) (addf $le.renewDeadlineSeconds 1.0)) }}
{{- fail (printf "leaderElection.leaseDurationSeconds (%v) must exceed renewDeadlineSeconds (%v) by more than 1 s: a leader that cannot renew must have stopped before a standby takes over" $le.leaseDurationSeconds $le.renewDeadlineSeconds) }}
{{- end }}
{{- else if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "replicaCount %v needs leaderElection.enabled: without the Lease, replicas would all reconcile" .Values.replicaCount) }}
{{- end }}
{{- end }}
