{{- define "roomy.fullname" -}}
{{- printf "%s" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "roomy.labels" -}}
app.kubernetes.io/name: roomy
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "roomy.secretName" -}}
{{- if .Values.secret.existingSecret -}}
{{ .Values.secret.existingSecret }}
{{- else -}}
{{ include "roomy.fullname" . }}-secrets
{{- end -}}
{{- end -}}
