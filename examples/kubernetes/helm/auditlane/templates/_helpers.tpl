{{/* Names */}}
{{- define "auditlane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "auditlane.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "webhook") */}}
{{- define "auditlane.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "auditlane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "auditlane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: set it when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* image: (dict "root" $ "image" .Values.image.collector) */}}
{{- define "auditlane.image" -}}
{{- $reg := required "image.registry: the registry `make images` pushed to (there is no public image)" .root.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $reg) .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Policy: the ConfigMap and key holding it, or nothing. */}}
{{- define "auditlane.policySet" -}}
{{- $n := 0 -}}
{{- if .Values.policy.builtin }}{{ $n = add1 $n }}{{ end -}}
{{- if .Values.policy.inline }}{{ $n = add1 $n }}{{ end -}}
{{- if .Values.policy.existingConfigMap }}{{ $n = add1 $n }}{{ end -}}
{{- if gt $n 1 }}{{ fail "policy: set at most one of builtin, inline and existingConfigMap" }}{{ end -}}
{{- if .Values.policy.builtin -}}
{{- if not (has .Values.policy.builtin (list "ack-default" "eks" "cost-saving")) -}}
{{- fail (printf "policy.builtin: %q is not ack-default, eks or cost-saving" .Values.policy.builtin) -}}
{{- end -}}
{{- end -}}
{{- if gt $n 0 }}true{{ end -}}
{{- end -}}

{{- define "auditlane.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "auditlane.fullname" .)) .Values.policy.existingConfigMap -}}
{{- end -}}

{{- define "auditlane.riskRulesSet" -}}
{{- if or .Values.riskRules.inline .Values.riskRules.existingConfigMap }}true{{ end -}}
{{- end -}}

{{- define "auditlane.riskRulesConfigMap" -}}
{{- default (printf "%s-risk-rules" (include "auditlane.fullname" .)) .Values.riskRules.existingConfigMap -}}
{{- end -}}

{{/* Where pods find the policy and risk rules. */}}
{{- define "auditlane.policyPath" -}}/etc/auditlane/policy/{{ .Values.policy.key }}{{- end -}}
{{- define "auditlane.riskRulesPath" -}}/etc/auditlane/risk-rules/{{ .Values.riskRules.key }}{{- end -}}

{{/* The shared pipeline keys as a dict (snake_case, string values). */}}
{{- define "auditlane.pipeline" -}}
{{- $p := dict -}}
{{- range $k, $v := .Values.pipeline }}{{ $_ := set $p $k $v }}{{ end -}}
{{- with .Values.cluster.name }}{{ $_ := set $p "cluster_name" . }}{{ end -}}
{{- with .Values.cluster.id }}{{ $_ := set $p "cluster_id" . }}{{ end -}}
{{- with .Values.cluster.provider }}{{ $_ := set $p "provider" . }}{{ end -}}
{{- if include "auditlane.policySet" . }}{{ $_ := set $p "policy_file" (include "auditlane.policyPath" .) }}{{ end -}}
{{- if include "auditlane.riskRulesSet" . }}{{ $_ := set $p "risk_rules_file" (include "auditlane.riskRulesPath" .) }}{{ end -}}
{{- with .Values.riskRules.disable }}{{ $_ := set $p "risk_rules_disable" (join "," .) }}{{ end -}}
{{- toYaml $p -}}
{{- end -}}

{{- define "auditlane.destinationCheck" -}}
{{- if not (or .Values.destinations.cloudwatch.enabled .Values.destinations.sls.enabled) -}}
{{- fail "destinations: enable cloudwatch, sls or both" -}}
{{- end -}}
{{- if .Values.destinations.cloudwatch.enabled -}}
{{- $_ := required "destinations.cloudwatch.region: set the AWS region" .Values.destinations.cloudwatch.region -}}
{{- end -}}
{{- if .Values.destinations.sls.enabled -}}
{{- $_ := required "destinations.sls.endpoint: set the SLS endpoint" .Values.destinations.sls.endpoint -}}
{{- $_ := required "destinations.sls.project: set the SLS project" .Values.destinations.sls.project -}}
{{- $_ := required "destinations.sls.logstore: set the SLS logstore" .Values.destinations.sls.logstore -}}
{{- end -}}
{{- end -}}

{{/* Volumes and mounts for the policy and risk rules. */}}
{{- define "auditlane.configVolumes" -}}
{{- if include "auditlane.policySet" . }}
- name: policy
  configMap:
    name: {{ include "auditlane.policyConfigMap" . }}
{{- end }}
{{- if include "auditlane.riskRulesSet" . }}
- name: risk-rules
  configMap:
    name: {{ include "auditlane.riskRulesConfigMap" . }}
{{- end }}
{{- end -}}

{{- define "auditlane.configMounts" -}}
{{- if include "auditlane.policySet" . }}
- name: policy
  mountPath: /etc/auditlane/policy
  readOnly: true
{{- end }}
{{- if include "auditlane.riskRulesSet" . }}
- name: risk-rules
  mountPath: /etc/auditlane/risk-rules
  readOnly: true
{{- end }}
{{- end -}}

{{/* Environment for every pod: the pod name (stream names, consumer
names), credentials from a Secret, extra entries. */}}
{{- define "auditlane.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: NODE_NAME
  valueFrom:
    fieldRef: {fieldPath: spec.nodeName}
{{- with .Values.credentials.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "auditlane.envFrom" -}}
{{- with .Values.credentials.existingSecret }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
{{- end -}}

{{/* The collector's exporters for the enabled destinations:
(dict "root" $ "stream" "name") */}}
{{- define "auditlane.collectorExporters" -}}
{{- $v := .root.Values -}}
{{- if $v.destinations.cloudwatch.enabled }}
{{- $cw := $v.destinations.cloudwatch }}
k8saudit_cloudwatch:
  region: {{ $cw.region | quote }}
  {{- with $cw.endpoint }}
  endpoint: {{ . | quote }}
  {{- end }}
  log_group_name: {{ $cw.logGroupName | quote }}
  log_stream_name: {{ default .stream $cw.logStreamName | quote }}
  template_vars:
    cluster: {{ default "cluster" $v.cluster.name | quote }}
  auto_create_group: {{ $cw.autoCreateGroup }}
  {{- if $cw.retentionDays }}
  log_retention_days: {{ $cw.retentionDays }}
  {{- end }}
  {{- with $cw.kmsKeyId }}
  kms_key_id: {{ . | quote }}
  {{- end }}
  {{- with $cw.logGroupClass }}
  log_group_class: {{ . | quote }}
  {{- end }}
  {{- with $cw.roleArn }}
  role_arn: {{ . | quote }}
  {{- end }}
  sending_queue:
    storage: file_storage
    queue_size: {{ $v.collector.queueSize }}
    sizer: items
  retry_on_failure:
    enabled: true
    max_elapsed_time: 0
{{- end }}
{{- if $v.destinations.sls.enabled }}
{{- $sls := $v.destinations.sls }}
k8saudit_sls:
  endpoint: {{ $sls.endpoint | quote }}
  project: {{ $sls.project | quote }}
  logstore: {{ $sls.logstore | quote }}
  {{- with $sls.topic }}
  topic: {{ . | quote }}
  {{- end }}
  sending_queue:
    storage: file_storage
    queue_size: {{ $v.collector.queueSize }}
    sizer: items
  retry_on_failure:
    enabled: true
    max_elapsed_time: 0
{{- end }}
{{- end -}}

{{- define "auditlane.collectorExporterNames" -}}
{{- $n := list -}}
{{- if .Values.destinations.cloudwatch.enabled }}{{ $n = append $n "k8saudit_cloudwatch" }}{{ end -}}
{{- if .Values.destinations.sls.enabled }}{{ $n = append $n "k8saudit_sls" }}{{ end -}}
[{{ join ", " $n }}]
{{- end -}}

{{/* The collector's service section: (dict "root" $ "receivers" "[...]" "processors" "[...]") */}}
{{- define "auditlane.collectorService" -}}
service:
  extensions: [file_storage]
  telemetry:
    logs:
      level: {{ .root.Values.collector.logLevel }}
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 0.0.0.0
                port: {{ .root.Values.collector.metricsPort }}
  pipelines:
    logs:
      receivers: {{ .receivers }}
      processors: {{ .processors }}
      exporters: {{ include "auditlane.collectorExporterNames" .root }}
{{- end -}}

{{- define "auditlane.collectorPorts" -}}
- name: metrics
  containerPort: {{ .Values.collector.metricsPort }}
  protocol: TCP
{{- end -}}

{{/* Probes on the collector's telemetry endpoint: it answers once the
collector has started its pipelines. */}}
{{- define "auditlane.collectorProbes" -}}
startupProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 2
  failureThreshold: 60
readinessProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 10
livenessProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 20
  failureThreshold: 3
{{- end -}}

{{- define "auditlane.collectorContainer" -}}
name: otelcol
image: {{ include "auditlane.image" (dict "root" .root "image" .root.Values.image.collector) }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
args: ["--config", "/etc/otelcol-auditlane/config.yaml"]
env:
  {{- include "auditlane.env" .root | nindent 2 }}
{{- include "auditlane.envFrom" .root }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
resources:
  {{- toYaml .resources | nindent 2 }}
{{- end -}}

{{/* A ServiceMonitor for a collector component's metrics port, when asked:
(dict "root" $ "component" "webhook") */}}
{{- define "auditlane.serviceMonitor" -}}
{{- if .root.Values.metrics.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "auditlane.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "auditlane.labels" .root | nindent 4 }}
    {{- with .root.Values.metrics.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "auditlane.selector" (dict "root" .root "component" .component) | nindent 6 }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ .root.Values.metrics.serviceMonitor.interval }}
{{- end }}
{{- end -}}

{{/* A collector StatefulSet with its headless Service and persistent
volume: (dict "root" $ "component" "sls-consumer" "values" .Values.slsConsumer
"config" "<collector config>") */}}
{{- define "auditlane.collectorStatefulSet" -}}
{{- $name := printf "%s-%s" (include "auditlane.fullname" .root) .component }}
{{- $v := .values }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "auditlane.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
data:
  config.yaml: |
    {{- .config | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "auditlane.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  clusterIP: None
  selector:
    {{- include "auditlane.selector" (dict "root" .root "component" .component) | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .root.Values.collector.metricsPort }}
      targetPort: metrics
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "auditlane.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  serviceName: {{ $name }}
  replicas: {{ default 1 $v.replicas }}
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      {{- include "auditlane.selector" (dict "root" .root "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "auditlane.selector" (dict "root" .root "component" .component) | nindent 8 }}
        {{- with .root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ .config | sha256sum | trunc 16 }}
        {{- with .root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "auditlane.serviceAccountName" .root }}
      {{- with .root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .root.Values.podSecurityContext | nindent 8 }}
      containers:
        - {{- include "auditlane.collectorContainer" (dict "root" .root "resources" $v.resources) | nindent 10 }}
          ports:
            {{- include "auditlane.collectorPorts" .root | nindent 12 }}
          {{- include "auditlane.collectorProbes" .root | nindent 10 }}
          volumeMounts:
            - name: config
              mountPath: /etc/otelcol-auditlane
              readOnly: true
            - name: storage
              mountPath: /var/lib/otelcol-auditlane
            {{- include "auditlane.configMounts" .root | nindent 12 }}
      volumes:
        - name: config
          configMap:
            name: {{ $name }}
        {{- include "auditlane.configVolumes" .root | nindent 8 }}
  volumeClaimTemplates:
    - metadata:
        name: storage
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $v.persistence.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $v.persistence.size }}
{{- include "auditlane.serviceMonitor" (dict "root" .root "component" .component) }}
{{- end -}}
