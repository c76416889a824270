{{- define "pushledger.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pushledger.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one part: (dict "root" $ "part" "gateway") */}}
{{- define "pushledger.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .part }}
{{- end -}}

{{- define "pushledger.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret the pods read: the operator's, or the one this chart makes from `secrets.values`. */}}
{{- define "pushledger.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "pushledger.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Fails the render when a required setting is missing: no default secret, broker or URL. */}}
{{- define "pushledger.validate" -}}
{{- $_ := required "config.kafkaBrokers is required (host:port,host:port)" .Values.config.kafkaBrokers -}}
{{- if not (has .Values.config.eventStore (list "postgres" "eventstoredb")) -}}
{{- fail "config.eventStore must be postgres or eventstoredb" -}}
{{- end -}}
{{- if not .Values.secrets.existingSecret -}}
{{- $s := .Values.secrets.values -}}
{{- $_ := required "secrets.existingSecret or secrets.values.adminToken is required (32+ characters); the chart has no default" $s.adminToken -}}
{{- if lt (len $s.adminToken) 32 -}}
{{- fail "secrets.values.adminToken must have at least 32 characters" -}}
{{- end -}}
{{- $_ := required "secrets.existingSecret or secrets.values.secretKey is required (openssl rand -base64 32); the chart has no default" $s.secretKey -}}
{{- $_ := required "secrets.existingSecret or secrets.values.postgresUrl is required" $s.postgresUrl -}}
{{- $_ := required "secrets.existingSecret or secrets.values.mongodbUri is required" $s.mongodbUri -}}
{{- if eq .Values.config.eventStore "eventstoredb" -}}
{{- $_ := required "secrets.values.eventStoreConnectionString is required with config.eventStore=eventstoredb" $s.eventStoreConnectionString -}}
{{- end -}}
{{- if .Values.config.kafka.saslMechanism -}}
{{- $_ := required "secrets.values.kafkaSaslPassword is required with config.kafka.saslMechanism" $s.kafkaSaslPassword -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The container of one part: (dict "root" $ "part" "gateway" "command" "dist/..." "args" list "port" 3000 "resources" map) */}}
{{- define "pushledger.container" -}}
{{- $root := .root -}}
- name: {{ .part }}
  image: {{ include "pushledger.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command: ["node", "scripts/run.js", {{ .command | quote }}{{ range .args }}, {{ . | quote }}{{ end }}]
  envFrom:
    - configMapRef:
        name: {{ include "pushledger.fullname" $root }}-config
    - secretRef:
        name: {{ include "pushledger.secretName" $root }}
  {{- if or (and .port (ne .part "gateway")) $root.Values.config.kafka.caSecret }}
  env:
    {{- if and .port (ne .part "gateway") }}
    - name: SERVICE_PORT
      value: {{ .port | quote }}
    {{- end }}
    {{- if $root.Values.config.kafka.caSecret }}
    - name: KAFKA_SSL_CA_FILE
      value: /etc/pushledger/kafka-ca/ca.crt
    {{- end }}
  {{- end }}
  {{- if .port }}
  ports:
    - name: {{ if eq .part "gateway" }}http{{ else }}health{{ end }}
      containerPort: {{ .port }}
  readinessProbe:
    httpGet: { path: /health, port: {{ .port }} }
    {{- toYaml $root.Values.probes.readiness | nindent 4 }}
  livenessProbe:
    httpGet: { path: /health, port: {{ .port }} }
    {{- toYaml $root.Values.probes.liveness | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - { name: tmp, mountPath: /tmp }
    {{- if $root.Values.config.kafka.caSecret }}
    - { name: kafka-ca, mountPath: /etc/pushledger/kafka-ca, readOnly: true }
    {{- end }}
{{- end -}}
