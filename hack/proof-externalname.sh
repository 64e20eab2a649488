#!/usr/bin/env bash
# Proof that the local control plane (hack/local-cluster.sh) reaches a host
# process on 127.0.0.1 through an ExternalName Service, both as
#   1. a ValidatingWebhookConfiguration's clientConfig.service, and
#   2. an APIService (aggregation layer, external.metrics.k8s.io/v1beta1),
# the two ways kube-governor is called, and that the HPA controller scales a
# Deployment on the served External metric. No kube-proxy, no kubelet.
#
# A tiny node HTTPS server listens on 127.0.0.1:<port> with a serving cert for
# kube-governor.kube-governor.svc signed by a throwaway CA. The Service is
#   type: ExternalName, externalName: localhost (KG_PROOF_EXTERNAL_NAME)
# and the webhook / APIService use service port = <port> (for ExternalName the
# apiserver dials https://<externalName>:<the port given in the webhook or
# APIService>; the Service's own ports are not consulted).
#
# Usage: hack/proof-externalname.sh   (starts the cluster if needed; leaves it up)
#   It creates and then deletes namespace kube-governor and the external.metrics
#   APIService: do not run it while e2e tests use the same cluster.
#   KG_PROOF_EXTERNAL_NAME=127.0.0.1   try another externalName (default localhost)
#   KG_PROOF_APIS=plain                answer GET /apis with a plain APIGroupList even
#                                      when aggregated discovery is asked for (default: 406)
# Exit 0 when both paths worked; prints what the server saw.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NS=kube-governor
SVC=kube-governor
EXTERNAL_NAME="${KG_PROOF_EXTERNAL_NAME:-localhost}"
WORK="$(mktemp -d /tmp/kg-proof.XXXXXX)"
SERVER_PID=""

log() { printf '[proof %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  if [[ -n "${KUBECONFIG:-}" ]] && command -v kubectl >/dev/null; then
    kubectl delete validatingwebhookconfiguration kg-proof --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete apiservice v1beta1.external.metrics.k8s.io --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete namespace "$NS" kg-proof --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/hack/local-cluster.sh" up >/dev/null
# shellcheck disable=SC1090
source <("$ROOT/hack/local-cluster.sh" env)

# ---- certificates: test CA + serving cert with SAN <svc>.<ns>.svc
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.crt" -days 1 \
  -subj "/CN=kg-proof-ca" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.csr" -subj "/CN=$SVC.$NS.svc" 2>/dev/null
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial -days 1 -out "$WORK/tls.crt" \
  -extfile <(printf 'subjectAltName=DNS:%s.%s.svc\nextendedKeyUsage=serverAuth\n' "$SVC" "$NS") 2>/dev/null
CA_BUNDLE="$(base64 -w0 "$WORK/ca.crt")"

# ---- the host process: node HTTPS server on 127.0.0.1, logging every request
cat >"$WORK/server.mjs" <<'EOF'
import https from 'node:https';
import fs from 'node:fs';
const [dir, frontProxyCa] = process.argv.slice(2);
const seen = fs.createWriteStream(`${dir}/requests.jsonl`);
const json = (res, code, body) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
const srv = https.createServer({
  key: fs.readFileSync(`${dir}/tls.key`), cert: fs.readFileSync(`${dir}/tls.crt`),
  // The aggregator presents the front-proxy client cert; ask for it, verify later.
  ca: fs.readFileSync(frontProxyCa), requestCert: true, rejectUnauthorized: false,
}, (req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const peer = req.socket.getPeerCertificate();
    const entry = {
      method: req.method, url: req.url, accept: req.headers.accept ?? '',
      sni: req.socket.servername ?? '', remoteAddress: req.socket.remoteAddress,
      clientCN: peer?.subject?.CN ?? '', clientAuthorized: req.socket.authorized,
      xRemoteUser: req.headers['x-remote-user'] ?? '', xRemoteGroup: req.headers['x-remote-group'] ?? '',
    };
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && path === '/validate') {
      const review = JSON.parse(body);
      const obj = review.request.object ?? {};
      entry.admission = { kind: review.request.kind?.kind, name: review.request.name, operation: review.request.operation, user: review.request.userInfo?.username };
      const deny = obj.data?.deny === 'true';
      json(res, 200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {
        uid: review.request.uid, allowed: !deny,
        ...(deny ? { status: { code: 403, message: 'kg-proof: data.deny is "true"' } } : {}),
      } });
    } else if (path === '/apis' && process.env.KG_PROOF_APIS !== 'plain' && /as=APIGroupDiscoveryList/.test(req.headers.accept ?? '')) {
      json(res, 406, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 406, reason: 'NotAcceptable' });
    } else if (path === '/apis') {
      json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'external.metrics.k8s.io',
        versions: [{ groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' }],
        preferredVersion: { groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' } }] });
    } else if (path === '/apis/external.metrics.k8s.io/v1beta1') {
      json(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'external.metrics.k8s.io/v1beta1',
        resources: [{ name: 'kg_proof_metric', singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] }] });
    } else if (/^\/apis\/external\.metrics\.k8s\.io\/v1beta1\/namespaces\/[^/]+\/kg_proof_metric$/.test(path)) {
      json(res, 200, { kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {},
        items: [{ metricName: 'kg_proof_metric', metricLabels: {}, timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), value: '3' }] });
    } else {
      json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' });
    }
    seen.write(JSON.stringify({ ...entry, status: res.statusCode }) + '\n');
  });
});
srv.listen(0, '127.0.0.1', () => { fs.writeFileSync(`${dir}/port`, String(srv.address().port)); });
EOF
node "$WORK/server.mjs" "$WORK" "$KG_FRONT_PROXY_CA" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 50); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"
log "host process: https://127.0.0.1:$PORT (serving cert SAN $SVC.$NS.svc); Service $NS/$SVC ExternalName -> $EXTERNAL_NAME"

kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: v1
kind: Namespace
metadata: {name: kg-proof, labels: {kg-proof: "true"}}
---
apiVersion: v1
kind: Service
metadata: {name: $SVC, namespace: $NS}
spec:
  type: ExternalName
  externalName: $EXTERNAL_NAME
  ports:
  - {name: https, port: $PORT, targetPort: $PORT}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: kg-proof}
webhooks:
- name: proof.kube-governor.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  namespaceSelector: {matchLabels: {kg-proof: "true"}}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  clientConfig:
    service: {name: $SVC, namespace: $NS, port: $PORT, path: /validate}
    caBundle: $CA_BUNDLE
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: $SVC, namespace: $NS, port: $PORT}
  caBundle: $CA_BUNDLE
EOF

fail=0
# ---- 1. admission webhook
# The webhook configuration is picked up asynchronously: retry until denied.
denied=""
for _ in $(seq 1 40); do
  kubectl -n kg-proof delete configmap kg-deny --ignore-not-found >/dev/null 2>&1
  if out="$(kubectl -n kg-proof create configmap kg-deny --from-literal=deny=true 2>&1)"; then :; else
    if grep -q 'denied the request' <<<"$out"; then denied="$out"; break; fi
  fi
  sleep 0.5
done
if [[ -n "$denied" ]]; then
  log "webhook: OK, denied as expected: $denied"
  kubectl -n kg-proof create configmap kg-allow --from-literal=deny=false >/dev/null && log "webhook: OK, allowed configmap created"
else
  log "webhook: FAILED; last output: ${out:-}"
  fail=1
fi

# ---- 2. aggregation layer
avail=""
for _ in $(seq 1 60); do
  avail="$(kubectl get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason} {.status.conditions[?(@.type=="Available")].message}')"
  [[ "$avail" == True* ]] && break
  sleep 0.5
done
log "APIService Available: $avail"
if value="$(kubectl get --raw "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/kg_proof_metric" 2>&1)" && grep -q '"value":"3"' <<<"$value"; then
  log "aggregator: OK, GET external metric -> $value"
else
  log "aggregator: FAILED: $value"
  fail=1
fi
kubectl api-resources --api-group=external.metrics.k8s.io 2>&1 | sed 's/^/[proof] api-resources: /' >&2 || true

# ---- 3. HPA: External metric (value 3, AverageValue target 1) scales 1 -> 3
kubectl -n kg-proof create deployment kg-proof --image=nginx --replicas=1 >/dev/null
kubectl -n kg-proof apply -f - >/dev/null <<EOF
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: kg-proof}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: kg-proof}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: External
    external:
      metric: {name: kg_proof_metric}
      target: {type: AverageValue, averageValue: "1"}
EOF
t0=$SECONDS
replicas=""
for _ in $(seq 1 60); do
  replicas="$(kubectl -n kg-proof get deployment kg-proof -o jsonpath='{.spec.replicas}')"
  [[ "$replicas" == 3 ]] && break
  sleep 0.5
done
if [[ "$replicas" == 3 ]]; then
  log "hpa: OK, Deployment scaled 1 -> 3 in $((SECONDS - t0))s"
else
  log "hpa: FAILED, replicas=$replicas"
  kubectl -n kg-proof describe hpa kg-proof | tail -15 >&2
  fail=1
fi

log "requests seen by the host process (method path status sni clientCN x-remote-user x-remote-group accept):"
node -e '
  const fs = require("fs");
  for (const l of fs.readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const e = JSON.parse(l);
    console.error(`  ${e.method} ${e.url} ${e.status} sni=${e.sni} cn=${e.clientCN || "-"} authorized=${e.clientAuthorized} user=${e.xRemoteUser || "-"} groups=${e.xRemoteGroup || "-"} from=${e.remoteAddress} accept=${e.accept.slice(0, 80)}${e.admission ? " admission=" + JSON.stringify(e.admission) : ""}`);
  }' "$WORK/requests.jsonl"
[[ -s "$WORK/server.err" ]] && { log "server stderr:"; cat "$WORK/server.err" >&2; }
if ((fail)); then
  log "RESULT: FAILED"
  exit 1
fi
log "RESULT: OK (ExternalName $EXTERNAL_NAME, port $PORT, works for webhooks and the aggregator)"
