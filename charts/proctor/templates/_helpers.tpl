{{- define "proctor.name" -}}proctor{{- end -}}

{{- define "proctor.fullname" -}}
{{- printf "%s-%s" .Release.Name "proctor" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "proctor.labels" -}}
app.kubernetes.io/name: proctor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "proctor.selectorLabels" -}}
app.kubernetes.io/name: proctor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}
