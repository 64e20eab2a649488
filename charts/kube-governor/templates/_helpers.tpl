{{/* Names, labels and shared fragments. Object names follow fullname, so the defaults (release kube-governor)
     give the names of manifests/base. */}}

{{- define "kube-governor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kube-governor.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kube-governor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kube-governor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kube-governor
{{- end -}}

{{/* Selects the server pods (Deployment, Service, PodDisruptionBudget, topology spread, ServiceMonitor). */}}
{{- define "kube-governor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-governor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "kube-governor.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "kube-governor.certsName" -}}{{ include "kube-governor.fullname" . }}-certs{{- end -}}
{{- define "kube-governor.tlsSecret" -}}{{ include "kube-governor.fullname" . }}-tls{{- end -}}
{{- define "kube-governor.caSecret" -}}{{ include "kube-governor.fullname" . }}-ca{{- end -}}
{{- define "kube-governor.policiesConfigMap" -}}
{{- .Values.policies.existingConfigMap | default (printf "%s-policies" (include "kube-governor.fullname" .)) -}}
{{- end -}}

{{/* The APIService name is fixed by the API group it serves. */}}
{{- define "kube-governor.apiServiceName" -}}v1beta1.external.metrics.k8s.io{{- end -}}

{{/* Labels of the objects the server registers (not helm's: helm never applies them). */}}
{{- define "kube-governor.registrationLabels" -}}
app.kubernetes.io/name: {{ include "kube-governor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: kube-governor
{{- end -}}

{{/* The registration templates mounted into the server (registration-configmap.yaml), by file name. */}}
{{- define "kube-governor.registrationFiles" -}}
{{- $files := list -}}
{{- if .Values.webhook.enabled }}{{ $files = append $files "webhooks.yaml" }}{{ end -}}
{{- if .Values.adapter.enabled }}{{ $files = append $files "apiservice.yaml" }}{{ end -}}
{{- join "," $files -}}
{{- end -}}

{{/* Pod and container hardening shared by the server and the certificate job (Pod Security "restricted"). */}}
{{- define "kube-governor.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kube-governor.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Arguments of `governor certs`: the names default to the base's, so they are passed only when they differ. */}}
{{- define "kube-governor.certsArgs" -}}
- certs
- --namespace={{ .Release.Namespace }}
- --service-name={{ include "kube-governor.fullname" . }}
{{- if ne (include "kube-governor.fullname" .) "kube-governor" }}
- --secret={{ include "kube-governor.tlsSecret" . }}
- --ca-secret={{ include "kube-governor.caSecret" . }}
- --webhook-configuration={{ include "kube-governor.fullname" . }}
{{- end }}
{{- end -}}

{{/* Webhook settings shared by every webhook (see webhooks.yaml for why). */}}
{{- define "kube-governor.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ concat .Values.webhook.excludedNamespaces (list .Release.Namespace) | uniq | toJson }}
{{- end -}}

{{- define "kube-governor.webhookClientConfig" -}}
clientConfig:
  service:
    name: {{ include "kube-governor.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 8443
{{- end -}}

{{- define "kube-governor.webhookMatchConditions" -}}
matchConditions:
  - name: not-from-workload-controller
    expression: >-
      !(request.userInfo.username in ['system:serviceaccount:kube-system:replicaset-controller',
      'system:serviceaccount:kube-system:deployment-controller', 'system:serviceaccount:kube-system:statefulset-controller',
      'system:serviceaccount:kube-system:daemon-set-controller', 'system:serviceaccount:kube-system:job-controller',
      'system:serviceaccount:kube-system:cronjob-controller', 'system:kube-controller-manager'])
{{- end -}}

{{- define "kube-governor.webhookWorkloadRules" -}}
rules:
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets, replicasets]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [batch]
    apiVersions: [v1]
    resources: [jobs, cronjobs]
    operations: [CREATE, UPDATE]
    scope: Namespaced
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    operations: [CREATE, UPDATE]
    scope: Namespaced
{{- end -}}

{{/* What the chart cannot do, said at render time rather than as a broken install. */}}
{{- define "kube-governor.validate" -}}
{{- if not (or .Values.adapter.enabled .Values.webhook.enabled) -}}
{{- fail "adapter.enabled and webhook.enabled are both false: nothing would be served" -}}
{{- end -}}
{{- if not (has .Values.certificates.mode (list "self" "cert-manager")) -}}
{{- fail (printf "certificates.mode must be self or cert-manager, not %q" .Values.certificates.mode) -}}
{{- end -}}
{{- end -}}
