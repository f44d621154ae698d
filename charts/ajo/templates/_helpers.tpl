{{/* Names, labels and the operator's RBAC rules, shared by the templates. */}}

{{- define "ajo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ajo.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "ajo.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "ajo.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "ajo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ajo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "ajo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ajo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ajo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ajo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ajo.image" -}}
{{- printf "%s:%s" .repository (default .appVersion .tag) }}
{{- end }}

{{- define "ajo.operatorImage" -}}
{{- include "ajo.image" (dict "repository" .Values.image.repository "tag" .Values.image.tag "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "ajo.runnerImage" -}}
{{- include "ajo.image" (dict "repository" .Values.runnerImage.repository "tag" .Values.runnerImage.tag "appVersion" .Chart.AppVersion) }}
{{- end }}

{{- define "ajo.processImage" -}}
{{- if .Values.processImage.repository }}
{{- include "ajo.image" (dict "repository" .Values.processImage.repository "tag" .Values.processImage.tag "appVersion" .Chart.AppVersion) }}
{{- else }}
{{- include "ajo.runnerImage" . }}
{{- end }}
{{- end }}

{{/* The namespaces whose AnsibleJobs this release runs (namespaced mode). */}}
{{- define "ajo.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- join "," .Values.watchNamespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "ajo.artifactsClaim" -}}
{{- default (printf "%s-artifacts" (include "ajo.fullname" .)) .Values.artifacts.pvc.existingClaim }}
{{- end }}

{{/*
What the operator calls in the namespaces it watches (docs/operator.md, RBAC):
AnsibleJobs (delete: ttlSecondsAfterFinished and the cleanup sweep), their status,
their finalizers (ownerReferences with blockOwnerDeletion), worker pods, Events.
Nothing on Secrets: the kubelet mounts them into worker pods, and a payload
Secret from `ajo submit` is owned by its AnsibleJob, so the garbage collector
removes it (no sweep has to list Secrets, which would return their data).
*/}}
{{- define "ajo.rules" -}}
- apiGroups: [ajo.dev]
  resources: [ansiblejobs]
  verbs: [get, list, watch, delete]
# AnsibleSchedules create their runs' AnsibleJobs (and delete them: Replace, history limits);
# finalizers: an owner reference with blockOwnerDeletion needs update on the owner's finalizers.
- apiGroups: [ajo.dev]
  resources: [ansiblejobs]
  verbs: [create]
- apiGroups: [ajo.dev]
  resources: [ansibleschedules]
  verbs: [get, list, watch]
- apiGroups: [ajo.dev]
  resources: [ansibleschedules/status, ansibleschedules/finalizers]
  verbs: [update]
- apiGroups: [ajo.dev]
  resources: [ansiblejobs/status]
  # patch: the controller writes only the fields it changed (its cache lacks a finished job's
  # results); update: a queue's admission of a waiting job.
  verbs: [update, patch]
- apiGroups: [ajo.dev]
  resources: [ansiblejobs/finalizers]
  verbs: [update]
- apiGroups: [ajo.dev]
  resources: [ansiblequeues, ansiblejobtemplates]
  verbs: [get, list, watch]
- apiGroups: [ajo.dev]
  resources: [ansiblequeues/status, ansiblejobtemplates/status]
  verbs: [update]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete]
{{- if eq .Values.statusVia "proxy" }}
- apiGroups: [""]
  resources: [pods/proxy]
  verbs: [get]
{{- end }}
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
{{- end }}

{{/* defaultQueues as the operator's AJO_DEFAULT_QUEUES: ns=queue,ns=queue (sorted by namespace). */}}
{{- define "ajo.defaultQueues" -}}
{{- $pairs := list }}
{{- range $namespace, $queue := .Values.defaultQueues }}
{{- $pairs = append $pairs (printf "%s=%s" $namespace $queue) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
