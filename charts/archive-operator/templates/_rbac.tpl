{{/*
Everything the operator does inside a watched namespace. Rendered into one ClusterRole when it
watches all namespaces, or into one Role per watched namespace. No wildcards; no list or watch
on Secrets. Each verb is one the operator was seen to use (tests/rbac proves it against the
request log of a run through every code path); the only ones it does not use in a normal run
are "get" on cronjobs and jobs, read after a 409 AlreadyExists to adopt what an earlier attempt
made. Where they hold is proven too (tests/rbac/test_rbac_scope.py, on the real API server
tests/real/test_rbac_scope_real.py): with a namespace list, nowhere else.
*/}}
{{- define "archive-operator.namespacedRules" -}}
# Its own resources: kopf watches them (and keeps nothing on them); the operator reads one
# schedule by name when a run, Job or pod of it changes.
- apiGroups: [archive.auriora.io]
  resources: [archiveschedules]
  verbs: [get, list, watch]
# ArchiveRuns: record scheduled runs (create), adopt hand-made ones (patch: owner and labels),
# trim the history (delete).
- apiGroups: [archive.auriora.io]
  resources: [archiveruns]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [archive.auriora.io]
  resources: [archiveschedules/status, archiveruns/status]
  verbs: [patch]
# One CronJob per schedule entry, replaced (update) when the entry changes.
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, create, update, delete]
# One Job per manual run or backfill; a scheduled Job held (patch: suspend) under Forbid, the
# Job of a replaced run deleted under Replace.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
# Run tracking: the runner's termination message is in the Pod's status.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# Events on schedules and runs (core/v1; kopf's own event posting is off). Create only.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if eq .Values.notifications.webhookSecretAccess "get" }}
# The one exception to "no Secrets": get (never list or watch) the Secrets a schedule names:
# spec.credentialsSecretRef, as metadata only, to check whose credentials they are (the
# annotation archive.auriora.io/user), and spec.notify.webhook.urlSecretRef, to read the
# webhook URL. See docs/chart.md, "Secrets".
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end }}
