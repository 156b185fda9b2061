{{- define "elevate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "elevate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "elevate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elevate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "elevate.labels" -}}
{{ include "elevate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: elevate
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "elevate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "elevate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where AccessRequests and AccessApprovals are watched. */}}
{{- define "elevate.homeNamespace" -}}
{{- default .Release.Namespace .Values.home.namespace -}}
{{- end -}}

{{- define "elevate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "elevate.scheme" -}}
{{- if .Values.tls.secretName }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/*
Elevate's config file: the user's config with what the chart decides (where it listens, its storage, TLS,
metrics, the home cluster) laid over it. The home cluster comes first in clusters, reached in-cluster.
*/}}
{{- define "elevate.config" -}}
{{- $config := deepCopy (default dict .Values.config) -}}
{{- $_ := set $config "listen" "0.0.0.0:8080" -}}
{{- if eq .Values.storage.kind "sqlite" -}}
{{- $_ := set $config "storage" "sqlite:/var/lib/elevate/elevate.db" -}}
{{- else -}}
{{- $_ := set $config "storage" (required "storage.postgres.url is required with storage.kind postgres" .Values.storage.postgres.url) -}}
{{- end -}}
{{- if .Values.tls.secretName -}}
{{- $_ := set $config "tls" (dict "certFile" "/etc/elevate/tls/tls.crt" "keyFile" "/etc/elevate/tls/tls.key") -}}
{{- end -}}
{{- if .Values.metrics.enabled -}}
{{- $_ := set $config "metrics" (dict "listen" (printf "0.0.0.0:%d" (int .Values.metrics.port))) -}}
{{- end -}}
{{- $home := dict "name" .Values.home.clusterName "kubeconfig" "in-cluster" "labels" .Values.home.labels "subjects" .Values.home.subjects "grants" .Values.home.grants "credentialNamespace" .Values.home.credentialNamespace -}}
{{- $_ := set $config "clusters" (prepend (default list $config.clusters) $home) -}}
{{- $_ := set $config "home" (dict "cluster" .Values.home.clusterName "namespace" (include "elevate.homeNamespace" .) "clusterSecrets" .Values.home.clusterSecrets) -}}
{{- toYaml $config -}}
{{- end -}}
