#!/usr/bin/env bash
# A real, local Kubernetes control plane for e2e tests, without Docker:
# etcd + kube-apiserver + kube-controller-manager as host processes on
# 127.0.0.1 (no kubelet, no kube-proxy, no scheduler).
# With --node (or KG_NODE=1) also a real node: containerd, the CNI bridge,
# kube-scheduler, kubelet and kube-proxy (hack/lib/local-node.sh); the API
# server then listens on the node address instead of 127.0.0.1. One node
# cluster per machine (containerd's socket, iptables); `up --node` refuses
# while another is up.
#
#   hack/local-cluster.sh up [--node]  start (builds binaries first if needed; no-op if healthy)
#   hack/local-cluster.sh load-image <ref>  import a podman image into the node's containerd
#   hack/local-cluster.sh down     stop the processes started by `up` and remove the state dir
#   hack/local-cluster.sh env      print the env file (source it: eval "$(hack/local-cluster.sh env)")
#   hack/local-cluster.sh status   exit 0 if the cluster is up and healthy
#
# Environment (all optional):
#   KG_CLUSTER_DIR        state dir (default /tmp/kube-governor-cluster)
#   KG_APISERVER_PORT     kube-apiserver secure port (default 16443)
#   KG_ETCD_PORT          etcd client port (default 16379); peer port is KG_ETCD_PEER_PORT (default 16380)
#   KG_KCM_PORT           kube-controller-manager secure port (default 16257)
#   KG_SERVICE_CIDR       --service-cluster-ip-range (default 127.96.0.0/16, see below)
#   KG_UP_TIMEOUT         seconds to wait for readiness (default 120)
#   KG_NODE=1             same as up --node. Node settings (hack/lib/local-node.sh): KG_NODE_IP (198.51.100.10),
#                         KG_POD_CIDR (10.244.77.0/24), KG_NODE_SERVICE_CIDR (10.245.0.0/24), KG_KUBELET_PORT
#                         (16250), KG_KUBELET_HEALTHZ_PORT (16248), KG_PROXY_HEALTHZ_PORT (16256),
#                         KG_PROXY_METRICS_PORT (16249), KG_SCHEDULER_PORT (16259)
#   KUBE_GOVERNOR_CACHE   binary cache root, see hack/build-control-plane.sh
#
# `up` prints KG_CLUSTER_STATUS=started|reused as its last stdout line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${KG_CLUSTER_DIR:-/tmp/kube-governor-cluster}"
STATE="${STATE%/}"
APISERVER_PORT="${KG_APISERVER_PORT:-16443}"
ETCD_PORT="${KG_ETCD_PORT:-16379}"
ETCD_PEER_PORT="${KG_ETCD_PEER_PORT:-16380}"
KCM_PORT="${KG_KCM_PORT:-16257}"
# ClusterIPs are never reachable here (no kube-proxy). Allocating them from a
# loopback range means that anything which does dial a ClusterIP (e.g. an
# APIService backed by a ClusterIP Service) stays on this machine and fails
# fast with "connection refused" instead of sending packets to a private range.
SERVICE_CIDR="${KG_SERVICE_CIDR:-127.96.0.0/16}"
UP_TIMEOUT="${KG_UP_TIMEOUT:-120}"
NODE=0
[[ "${KG_NODE:-}" == 1 || "${2:-}" == --node ]] && NODE=1
API_HOST=127.0.0.1
MARKER="$STATE/.kube-governor-cluster"
PKI="$STATE/pki"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
COMPONENTS=(etcd kube-apiserver kube-controller-manager)
# shellcheck source=hack/lib/local-node.sh
source "$ROOT/hack/lib/local-node.sh"
if ((NODE)); then
  # ClusterIPs must be reachable from pods (loopback ones are not), and the pods reach the API server through the
  # `kubernetes` Service on the node address.
  SERVICE_CIDR="$NODE_SERVICE_CIDR"
  API_HOST="$NODE_IP"
fi

log() { printf '[local-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

show_log_tail() { # component
  local f="$LOGS/$1.log"
  if [[ -f "$f" ]]; then
    log "---- last 40 lines of $f ----"
    tail -n 40 "$f" >&2
    log "---- end of $f ----"
  fi
}

# pid of a component we started, if it is still alive and still that binary.
live_pid() { # component
  local pf="$PIDS/$1.pid" pid exe
  [[ -f "$pf" ]] || return 1
  pid="$(<"$pf")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [[ "$(basename "${exe% (deleted)}")" == "$1" ]] || return 1
  echo "$pid"
}

kubectl_admin() { "$KUBECTL" --kubeconfig "$STATE/kubeconfig" --request-timeout=5s "$@"; }

healthy() {
  [[ -f "$MARKER" && -f "$STATE/env" && -f "$STATE/kubeconfig" ]] || return 1
  local c
  for c in "${COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  # The same mode as asked for: a node cluster is not reused as a node-less one, nor the reverse.
  if ((NODE)); then [[ -f "$NODE_DIR/enabled" ]] || return 1; else [[ ! -f "$NODE_DIR/enabled" ]] || return 1; fi
  KUBECTL="$(sed -n "s/^export KG_BIN_DIR='\(.*\)'$/\1/p" "$STATE/env")/kubectl"
  [[ -x "$KUBECTL" ]] || return 1
  [[ "$(kubectl_admin get --raw /readyz 2>/dev/null)" == ok ]] || return 1
  kubectl_admin -n default get serviceaccount default >/dev/null 2>&1 || return 1
  if ((NODE)); then node_healthy || return 1; fi
}

# stop_group <component...>: SIGTERM them together, wait up to 10 s, SIGKILL the rest.
stop_group() {
  local c pid pids=() i alive
  for c in "$@"; do
    if pid="$(live_pid "$c")"; then
      log "stopping $c (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$PIDS/$c.pid"
  done
  ((${#pids[@]})) || return 0
  for ((i = 0; i < 50; i++)); do
    alive=0
    # /proc/PID/exe is unreadable once the process is gone or a zombie.
    for pid in "${pids[@]}"; do readlink "/proc/$pid/exe" >/dev/null 2>&1 && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if readlink "/proc/$pid/exe" >/dev/null 2>&1; then
      log "pid $pid did not exit after 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

stop_all() {
  # The apiserver hangs in shutdown if etcd goes first: stop etcd last.
  stop_group kube-controller-manager kube-apiserver
  stop_group etcd
}

remove_state() {
  [[ -e "$STATE" ]] || return 0
  # Only ever delete a directory this script created.
  [[ -f "$MARKER" ]] || die "$STATE exists but was not created by $0 (no $MARKER); not removing it"
  rm -rf "$STATE"
}

port_free() { # port
  ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- certificates
gen_key() { openssl genrsa -out "$1" 2048 2>/dev/null; chmod 600 "$1"; }

# new_ca <name> <CN>
new_ca() {
  gen_key "$PKI/$1.key"
  openssl req -x509 -new -sha256 -key "$PKI/$1.key" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# new_cert <ca> <name> <subject> <extendedKeyUsage> [subjectAltName]
new_cert() {
  local ca="$1" name="$2" subj="$3" eku="$4" san="${5:-}" ext
  gen_key "$PKI/$name.key"
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku"
  [[ -n "$san" ]] && ext+=$'\n'"subjectAltName=$san"
  openssl req -new -sha256 -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -sha256 -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
    -CAcreateserial -days 825 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

first_service_ip() { # a.b.c.d/n -> a.b.c.(d+1), IPv4 only
  local net="${1%/*}"
  IFS=. read -r a b c d <<<"$net"
  echo "$a.$b.$c.$((d + 1))"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  log "creating certificates in $PKI"
  new_ca ca "kube-governor-e2e-ca"
  new_cert ca apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:$API_HOST,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$(first_service_ip "$SERVICE_CIDR")"
  new_cert ca admin "/O=system:masters/CN=kubernetes-admin" clientAuth
  new_cert ca kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  # The aggregation layer has its own CA: the apiserver presents
  # front-proxy-client to extension apiservers, which trust the
  # requestheader CA only for X-Remote-* headers.
  new_ca front-proxy-ca "kube-governor-e2e-front-proxy-ca"
  new_cert front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth
  gen_key "$PKI/sa.key"
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  if ((NODE)); then node_make_pki; fi
}

# write_kubeconfig <file> <user> <cert name>
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kube-governor-e2e
  cluster:
    server: https://$API_HOST:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$3.crt
    client-key: $PKI/$3.key
contexts:
- name: $2@kube-governor-e2e
  context:
    cluster: kube-governor-e2e
    user: $2
    namespace: default
current-context: $2@kube-governor-e2e
EOF
  chmod 600 "$1"
}

# ---------------------------------------------------------------- processes
start_component() { # name binary args...
  local name="$1" bin="$2" pid
  shift 2
  # setsid: own session, so the processes outlive the shell or test runner
  # that called `up` (and a Ctrl-C in it) until `down`.
  # 8>&-: do not hand the `up` lock (fd 8) to the long-running process.
  setsid "$bin" "$@" >"$LOGS/$name.log" 2>&1 </dev/null 8>&- &
  pid=$!
  echo "$pid" >"$PIDS/$name.pid"
  log "started $name (pid $pid, log $LOGS/$name.log)"
}

# wait_for <component> <what> <command...>: poll until the command succeeds.
wait_for() {
  local comp="$1" what="$2" deadline=$((SECONDS + UP_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! live_pid "$comp" >/dev/null; then
      show_log_tail "$comp"
      die "$comp exited while waiting for $what"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$comp"
      die "timed out after ${UP_TIMEOUT}s waiting for $what"
    fi
    sleep 0.5
  done
}

readyz_ok() { [[ "$(kubectl_admin get --raw /readyz 2>/dev/null)" == ok ]]; }
etcd_ok() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

cmd_up() {
  if healthy; then
    log "cluster in $STATE is already up and healthy"
    echo "KG_CLUSTER_STATUS=reused"
    return 0
  fi
  if [[ -e "$STATE" ]]; then
    log "found a stale or unhealthy cluster in $STATE; recreating it"
    [[ -f "$MARKER" ]] || die "$STATE exists but was not created by $0 (no $MARKER); not touching it"
    node_down
    stop_all
    remove_state
  fi

  local out k8s_bin etcd_bin p t0=$SECONDS
  out="$(KG_NODE=$NODE "$ROOT/hack/build-control-plane.sh")"
  k8s_bin="$(sed -n 's/^K8S_BIN_DIR=//p' <<<"$out")"
  etcd_bin="$(sed -n 's/^ETCD_BIN_DIR=//p' <<<"$out")"
  [[ -x "$k8s_bin/kube-apiserver" && -x "$etcd_bin/etcd" ]] || die "build-control-plane.sh did not report usable bin dirs"
  if ((NODE)); then
    PAUSE_IMAGE="$(sed -n 's/^PAUSE_IMAGE=//p' <<<"$out")"
    PAUSE_IMAGE_TAR="$(sed -n 's/^PAUSE_IMAGE_TAR=//p' <<<"$out")"
    [[ -x "$k8s_bin/kubelet" && -f "$PAUSE_IMAGE_TAR" ]] || die "build-control-plane.sh did not build the node (kubelet, pause image)"
    node_preflight
  fi
  t0=$SECONDS
  KUBECTL="$k8s_bin/kubectl"

  for p in "$APISERVER_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KCM_PORT"; do
    port_free "$p" || die "port 127.0.0.1:$p is already in use (set KG_APISERVER_PORT/KG_ETCD_PORT/KG_ETCD_PEER_PORT/KG_KCM_PORT)"
  done

  mkdir -p "$STATE"
  touch "$MARKER"
  # On any failure from here on: stop what was started, keep the logs.
  trap 'if [[ ! -f "$STATE/env" ]]; then node_down; stop_all; log "up failed; logs kept in $LOGS (next up or down removes them)"; fi' EXIT
  mkdir -p "$LOGS" "$PIDS" "$STATE/etcd" "$STATE/kcm"
  chmod 700 "$STATE/etcd"
  make_pki
  if ((NODE)); then
    node_record
    node_net_up
    node_write_config
  fi
  write_kubeconfig "$STATE/kubeconfig" kubernetes-admin admin
  write_kubeconfig "$STATE/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager

  start_component etcd "$etcd_bin/etcd" \
    --name=kube-governor-e2e \
    --data-dir="$STATE/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="kube-governor-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync=true \
    --log-level=warn
  wait_for etcd "etcd health" etcd_ok

  # Feature gate for per-HPA tolerance: pass it only while the release still
  # lists it (alpha/beta); once GA it is always on and setting it only warns.
  local gates=()
  if "$k8s_bin/kube-apiserver" --help 2>/dev/null | grep -q 'HPAConfigurableTolerance='; then
    gates=(--feature-gates=HPAConfigurableTolerance=true)
  fi
  # Without a node: nothing reaches the API server but host processes, and no endpoint is published. With a node:
  # pods reach it through the `kubernetes` Service (lease reconciler: with `none` pods get connection refused), and
  # it reaches the kubelet (logs, exec, port-forward) on the node address.
  local node_flags=(--endpoint-reconciler-type=none)
  local controllers=horizontalpodautoscaling,deployment,replicaset,serviceaccount,serviceaccount-token,namespace,garbagecollector,clusterrole-aggregation,root-ca-cert-publisher
  if ((NODE)); then
    node_flags=(
      --endpoint-reconciler-type=lease
      --kubelet-preferred-address-types=InternalIP,Hostname
      --kubelet-certificate-authority="$PKI/ca.crt"
      --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
      --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
    )
    # nodelifecycle (else pods stay Pending on the not-ready taint), endpoints for Services, and what Jobs,
    # CronJobs, PodDisruptionBudgets and finished pods need.
    controllers+=,nodelifecycle,endpoint,endpointslice,endpointslicemirroring,job,cronjob,ttl-after-finished,podgc,daemonset,statefulset,disruption,replicationcontroller,ttl
  fi

  start_component kube-apiserver "$k8s_bin/kube-apiserver" \
    --bind-address="$API_HOST" \
    --advertise-address="$API_HOST" \
    --secure-port="$APISERVER_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    "${node_flags[@]}" \
    --allow-privileged=true \
    --profiling=false \
    "${gates[@]}"
  wait_for kube-apiserver "kube-apiserver /readyz" readyz_ok

  start_component kube-controller-manager "$k8s_bin/kube-controller-manager" \
    --kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$KCM_PORT" \
    --cert-dir="$STATE/kcm" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --controllers="$controllers" \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --horizontal-pod-autoscaler-sync-period=1s \
    --horizontal-pod-autoscaler-downscale-stabilization=0s \
    --horizontal-pod-autoscaler-tolerance=0.01 \
    --kube-api-qps=100 \
    --kube-api-burst=200 \
    "${gates[@]}"
  wait_for kube-controller-manager "the default ServiceAccount in namespace default" \
    kubectl_admin -n default get serviceaccount default

  if ((NODE)); then
    node_start "$k8s_bin"
    touch "$NODE_DIR/enabled"
  fi

  local version
  version="$("$KUBECTL" version --client -o yaml 2>/dev/null | sed -n 's/^ *gitVersion: //p' | head -1)"
  cat >"$STATE/env.tmp" <<EOF
# kube-governor local e2e cluster ($STATE); source this file.
export KG_CLUSTER_DIR='$STATE'
export KUBECONFIG='$STATE/kubeconfig'
export KG_BIN_DIR='$k8s_bin'
export KG_ETCD_BIN_DIR='$etcd_bin'
export PATH="$k8s_bin:\$PATH"
export KG_K8S_VERSION='$version'
export KG_APISERVER_URL='https://$API_HOST:$APISERVER_PORT'
export KG_CLUSTER_CA='$PKI/ca.crt'
export KG_ADMIN_CERT='$PKI/admin.crt'
export KG_ADMIN_KEY='$PKI/admin.key'
export KG_FRONT_PROXY_CA='$PKI/front-proxy-ca.crt'
export KG_FRONT_PROXY_CERT='$PKI/front-proxy-client.crt'
export KG_FRONT_PROXY_KEY='$PKI/front-proxy-client.key'
export KG_SERVICE_ACCOUNT_ISSUER='https://kubernetes.default.svc.cluster.local'
export KG_SERVICE_CIDR='$SERVICE_CIDR'
export KG_ETCD_URL='http://127.0.0.1:$ETCD_PORT'
export KG_KCM_URL='https://127.0.0.1:$KCM_PORT'
export KG_NODE='$NODE'
EOF
  if ((NODE)); then
    cat >>"$STATE/env.tmp" <<EOF
export KG_NODE_NAME='$NODE_NAME'
export KG_NODE_IP='$NODE_IP'
export KG_POD_CIDR='$POD_CIDR'
export KG_PAUSE_IMAGE='$PAUSE_IMAGE'
EOF
  fi
  mv "$STATE/env.tmp" "$STATE/env"
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s: $version at https://$API_HOST:$APISERVER_PORT$( ((NODE)) && echo " with node $NODE_NAME") (env: $STATE/env)"
  echo "KG_CLUSTER_STATUS=started"
}

cmd_down() {
  if [[ ! -e "$STATE" ]]; then
    log "no cluster in $STATE"
    return 0
  fi
  [[ -f "$MARKER" ]] || die "$STATE was not created by $0 (no $MARKER); not touching it"
  node_down
  stop_all
  remove_state
  log "cluster in $STATE removed"
}

cmd_env() {
  [[ -f "$STATE/env" ]] || die "no cluster in $STATE (run: $0 up)"
  cat "$STATE/env"
}

cmd_status() {
  if healthy; then
    log "cluster in $STATE is up and healthy"
  else
    log "cluster in $STATE is not up (or not healthy)"
    return 1
  fi
}

# Serialize up/down/status: node:test runs test files in parallel processes
# that may all call `up`. The lock lives beside the state dir, which `down`
# removes.
with_lock() {
  mkdir -p "$(dirname "$STATE")"
  exec 8>"$STATE.lock"
  if ! flock -n 8; then
    log "waiting for another local-cluster.sh on $STATE.lock"
    flock 8
  fi
  "$@"
}

case "${1:-}" in
  up)
    [[ -z "${2:-}" || "${2:-}" == --node ]] || { echo "usage: $0 up [--node]" >&2; exit 2; }
    with_lock cmd_up
    ;;
  load-image)
    [[ -n "${2:-}" ]] || { echo "usage: $0 load-image <podman image>" >&2; exit 2; }
    with_lock node_load_image "$2"
    ;;
  down) with_lock cmd_down ;;
  env) cmd_env ;;
  status) with_lock cmd_status ;;
  *)
    echo "usage: $0 up [--node]|down|env|status|load-image <ref>" >&2
    exit 2
    ;;
esac
