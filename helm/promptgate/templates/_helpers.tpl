{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "promptgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. If the release name already contains the chart name
it is used as-is.
*/}}
{{- define "promptgate.fullname" -}}
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
Name of the controller's objects.
*/}}
{{- define "promptgate.controllerFullname" -}}
{{- printf "%s-controller" (include "promptgate.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{- define "promptgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "promptgate.labels" -}}
helm.sh/chart: {{ include "promptgate.chart" . }}
app.kubernetes.io/name: {{ include "promptgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: promptgate
{{- end }}

{{/*
Selector labels. The component keeps the gateway's Service, HPA and PDB off the
controller's pod.
*/}}
{{- define "promptgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "promptgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "promptgate.controllerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "promptgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "promptgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "promptgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository:tag, or repository@digest.
*/}}
{{- define "promptgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
"true" when the release is configured with Redis, else empty.
*/}}
{{- define "promptgate.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{/*
Configuration checks, run by every template that renders a workload.
*/}}
{{- define "promptgate.validate" -}}
{{- $redis := include "promptgate.redisEnabled" . }}
{{- if and (gt (int .Values.replicaCount) 1) (not $redis) }}
{{- fail (printf "promptgate: replicaCount is %d but Redis is not configured. Replicas share prompts, weights and aggregates through Redis: set redis.url (or redis.existingSecret), or use replicaCount=1 with the embedded store." (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not $redis) }}
{{- fail "promptgate: autoscaling.enabled needs Redis, since the autoscaler runs more than one replica and replicas share state through Redis: set redis.url (or redis.existingSecret)." }}
{{- end }}
{{- if and .Values.controller.enabled (not $redis) }}
{{- fail "promptgate: controller.enabled needs Redis: the rollout controller is leader-elected through a Redis lease and acts on the store the gateways share (the embedded store is per pod). Set redis.url (or redis.existingSecret)." }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "promptgate: autoscaling.maxReplicas must be >= autoscaling.minReplicas." }}
{{- end }}
{{- if .Values.gateway.terminationGracePeriodSeconds }}
{{- $floor := add (div (int64 .Values.gateway.drainTimeoutMs) 1000) (int64 .Values.gateway.preStopSleepSeconds) }}
{{- if le (int64 .Values.gateway.terminationGracePeriodSeconds) $floor }}
{{- fail (printf "promptgate: gateway.terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + drainTimeoutMs/1000 (%d), or open streams are killed before they drain." (int64 .Values.gateway.terminationGracePeriodSeconds) $floor) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod's terminationGracePeriodSeconds: preStop sleep + drain deadline + 10 s
to flush spans and aggregates, unless set explicitly.
*/}}
{{- define "promptgate.terminationGracePeriodSeconds" -}}
{{- if .Values.gateway.terminationGracePeriodSeconds }}
{{- int64 .Values.gateway.terminationGracePeriodSeconds }}
{{- else }}
{{- add (div (int64 .Values.gateway.drainTimeoutMs) 1000) (int64 .Values.gateway.preStopSleepSeconds) 10 }}
{{- end }}
{{- end }}

{{/*
OTEL_SERVICE_NAME of the gateway.
*/}}
{{- define "promptgate.otelServiceName" -}}
{{- default (include "promptgate.fullname" .) .Values.otel.serviceName }}
{{- end }}

{{/*
ConfigMap key of a prompt file (keys are flat; the volume maps them back to
prompts/<name>/<version>.yaml).
*/}}
{{- define "promptgate.promptKey" -}}
{{- printf "prompts__%s__%s.yaml" .name .version }}
{{- end }}

{{/*
A config file's content: a string verbatim, anything else as YAML.
*/}}
{{- define "promptgate.fileContent" -}}
{{- if kindIs "string" . }}
{{- trimSuffix "\n" . }}
{{- else }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap mounted at CONFIG_DIR, or empty when the image's own
config/ is used.
*/}}
{{- define "promptgate.configMapName" -}}
{{- if .Values.config.create }}
{{- include "promptgate.fullname" . }}-config
{{- else if .Values.config.existingConfigMap }}
{{- .Values.config.existingConfigMap }}
{{- end }}
{{- end }}

{{/*
Environment shared by the gateway and the controller.
Called with (dict "root" $ "serviceName" "<OTEL_SERVICE_NAME>").
*/}}
{{- define "promptgate.env" -}}
{{- $root := .root }}
{{- $serviceName := .serviceName }}
{{- with $root -}}
- name: CONFIG_DIR
  value: {{ .Values.config.mountPath | quote }}
- name: STATE_PATH
  value: {{ .Values.gateway.statePath | quote }}
- name: GATEWAY_ENV
  value: {{ .Values.gateway.environment | quote }}
- name: REDIS_PREFIX
  value: {{ .Values.redis.prefix | quote }}
{{- if .Values.redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else if .Values.redis.url }}
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ $serviceName | quote }}
{{- $attrs := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" (printf "service.version=%s" (default .Chart.AppVersion .Values.image.tag | toString)) }}
{{- range $k, $v := .Values.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
- name: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
  value: {{ .Values.otel.captureMessageContent | toString | quote }}
{{- with .Values.otel.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- range .Values.secrets.env }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end }}

{{/*
envFrom shared by the gateway and the controller.
*/}}
{{- define "promptgate.envFrom" -}}
{{- if .Values.secrets.existingSecret }}
- secretRef:
    name: {{ .Values.secrets.existingSecret }}
    {{- if .Values.secrets.optional }}
    optional: true
    {{- end }}
{{- end }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes shared by the gateway and the controller: /tmp (STATE_PATH and Node's
scratch space on a read-only root filesystem) and the config.
*/}}
{{- define "promptgate.volumes" -}}
- name: tmp
  emptyDir:
    {{- with .Values.gateway.tmpSizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- $cm := include "promptgate.configMapName" . }}
{{- if $cm }}
- name: config
  configMap:
    name: {{ $cm }}
    {{- if .Values.config.create }}
    items:
      - key: gateway.yaml
        path: gateway.yaml
      - key: pricing.yaml
        path: pricing.yaml
      {{- range $name, $versions := .Values.config.prompts }}
      {{- range $version, $_ := $versions }}
      - key: {{ include "promptgate.promptKey" (dict "name" $name "version" $version) }}
        path: {{ printf "prompts/%s/%s.yaml" $name $version }}
      {{- end }}
      {{- end }}
    {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "promptgate.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "promptgate.configMapName" . }}
- name: config
  mountPath: {{ .Values.config.mountPath }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}
