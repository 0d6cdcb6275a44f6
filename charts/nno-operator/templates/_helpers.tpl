{{/* Names and labels shared by every template. */}}
{{- define "nno-operator.fullname" -}}
{{- if contains "nno-operator" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-nno-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nno-operator.selectorLabels" -}}
app.kubernetes.io/name: nno-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nno-operator.labels" -}}
{{ include "nno-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
