# shellcheck shell=bash
# The node of the local cluster (hack/local-cluster.sh up --node): containerd + runc (Debian), the CNI bridge,
# kube-scheduler, kubelet and kube-proxy, all on this machine only. Sourced by hack/local-cluster.sh, which provides
# STATE, LOGS, PIDS, PKI, log, die, new_cert, start_component, live_pid, stop_group, stop_all, kubectl_admin,
# write_kubeconfig.
#
# Traffic stays on the machine:
# - the node address (NODE_IP, a documentation range) sits on a bridge with no ports (`kg-node0`; this kernel has no
#   dummy driver), and the API server, kubelet and kube-proxy bind to it or to loopback only;
# - the pod range gets a `blackhole` route (the pod bridge's own /24 is more specific and wins), and the Service
#   range a route onto the portless kg-node0, which drops what it is given: a packet whose NAT rule is missing goes
#   nowhere. (A `blackhole` route cannot serve the Service range: the host's own connections to a ClusterIP, e.g. the
#   API server calling the webhook Service, need a route before kube-proxy's OUTPUT DNAT rewrites the destination;
#   a blackhole route fails connect() with EINVAL first.)
# - a FORWARD rule drops anything from the pod range that would leave through another interface than the pod bridge,
#   pods get no DNS server, and containerd's registry host for every registry is 127.0.0.1:1 (nothing is pulled).
#
# `down` restores what `up` changed, from what `up` recorded in $STATE/node/: sysctls, iptables chains, routes,
# interfaces, mounts, network namespaces and cgroups.

NODE_NAME="${KG_NODE_NAME:-kg-node}"
NODE_IP="${KG_NODE_IP:-198.51.100.10}"
NODE_LINK="${KG_NODE_LINK:-kg-node0}"
POD_BRIDGE="${KG_POD_BRIDGE:-kg-cni0}"
POD_CIDR="${KG_POD_CIDR:-10.244.77.0/24}"
POD_RANGE="${KG_POD_RANGE:-10.244.0.0/16}"
NODE_SERVICE_CIDR="${KG_NODE_SERVICE_CIDR:-10.245.0.0/24}"
KUBELET_PORT="${KG_KUBELET_PORT:-16250}"
KUBELET_HEALTHZ_PORT="${KG_KUBELET_HEALTHZ_PORT:-16248}"
PROXY_HEALTHZ_PORT="${KG_PROXY_HEALTHZ_PORT:-16256}"
PROXY_METRICS_PORT="${KG_PROXY_METRICS_PORT:-16249}"
SCHEDULER_PORT="${KG_SCHEDULER_PORT:-16259}"
# cadvisor reads pod stats from the default socket path only, so containerd listens there (one node per machine).
CONTAINERD_SOCK=/run/containerd/containerd.sock
CONTAINERD_STATE=/run/containerd
NODE_OWNER=/run/kube-governor-node.owner
NODE_DIR="$STATE/node"
NODE_COMPONENTS=(containerd kube-scheduler kubelet kube-proxy)
# Sysctls that kubelet (panic, overcommit, keys), kube-proxy (conntrack, route_localnet) and the CNI bridge
# (ip_forward) may change; `up` records them and `down` writes the recorded values back.
NODE_SYSCTLS=(
  net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.ipv6.conf.all.forwarding
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
)
CGROUP_ROOT=/sys/fs/cgroup

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# ---------------------------------------------------------------- preflight: one node cluster per machine
node_preflight() {
  local owner p
  [[ "$(id -u)" == 0 ]] || die "the node needs root (network interfaces, iptables, containerd)"
  for p in containerd ctr runc iptables ip6tables iptables-save conntrack ip podman; do
    command -v "$p" >/dev/null || die "$p is not installed (hack/ensure-deps.sh installs containerd, conntrack, runc, iptables, podman)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
    || die "the CNI plugins are missing in /usr/lib/cni (apt-get install containernetworking-plugins)"
  if [[ -f "$NODE_OWNER" ]]; then
    owner="$(<"$NODE_OWNER")"
    die "a node cluster is already up on this machine (state dir $owner; only one can run: containerd's socket, iptables). Stop it first: KG_CLUSTER_DIR=$owner $0 down"
  fi
  for p in "$NODE_LINK" "$POD_BRIDGE"; do
    ! ip link show "$p" >/dev/null 2>&1 || die "interface $p exists but no node cluster owns it ($NODE_OWNER missing): remove it (ip link del $p) or set KG_NODE_LINK/KG_POD_BRIDGE"
  done
  [[ ! -S "$CONTAINERD_SOCK" ]] || ! ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1 \
    || die "a containerd already answers on $CONTAINERD_SOCK; the node runs its own there (stop that one first)"
  if iptables-save 2>/dev/null | grep -q '^:KUBE-'; then
    die "iptables already has KUBE-* chains (another kube-proxy or kubelet?); the node's down would remove them: clean them first"
  fi
  if ip -4 route show | grep -qE "^(blackhole )?(${POD_RANGE%/*}|${POD_CIDR%/*}|${NODE_SERVICE_CIDR%/*})/"; then
    die "routes for $POD_RANGE, $POD_CIDR or $NODE_SERVICE_CIDR exist already: $(ip -4 route show | grep -E "${POD_RANGE%/*}|${NODE_SERVICE_CIDR%/*}" | head -3)"
  fi
  for p in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$PROXY_HEALTHZ_PORT" "$PROXY_METRICS_PORT" "$SCHEDULER_PORT"; do
    port_free "$p" || die "port $p is already in use (set KG_KUBELET_PORT/KG_KUBELET_HEALTHZ_PORT/KG_PROXY_HEALTHZ_PORT/KG_PROXY_METRICS_PORT/KG_SCHEDULER_PORT)"
  done
}

# ---------------------------------------------------------------- what `up` changes, recorded first
node_record() {
  local s v
  mkdir -p "$NODE_DIR"
  # `down` reads these back, so it undoes exactly what this `up` did whatever its own environment says.
  declare -p NODE_NAME NODE_IP NODE_LINK POD_BRIDGE POD_CIDR POD_RANGE NODE_SERVICE_CIDR >"$NODE_DIR/settings"
  : >"$NODE_DIR/sysctl.before"
  for s in "${NODE_SYSCTLS[@]}"; do
    if v="$(sysctl -n "$s" 2>/dev/null)"; then printf '%s=%s\n' "$s" "$v" >>"$NODE_DIR/sysctl.before"; fi
  done
  ls -1 /run/netns 2>/dev/null | sort >"$NODE_DIR/netns.before" || true
  [[ -e /run/netns ]] && touch "$NODE_DIR/run-netns.existed"
  [[ -e "$CONTAINERD_STATE" ]] && touch "$NODE_DIR/containerd-state.existed"
  [[ -e /var/log/containers ]] && touch "$NODE_DIR/var-log-containers.existed"
  [[ -e /var/log/pods ]] && touch "$NODE_DIR/var-log-pods.existed"
  local c
  for c in "$CGROUP_ROOT"/*/; do [[ -d "$c/kubepods" ]] && echo "$c" >>"$NODE_DIR/kubepods.existed"; done
  echo "$STATE" >"$NODE_OWNER"
}

# ---------------------------------------------------------------- network: node address, sinks, forward guard
node_net_up() {
  ip link add "$NODE_LINK" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_LINK"
  ip link set "$NODE_LINK" up
  ip route add blackhole "$POD_RANGE"
  ip route add "$NODE_SERVICE_CIDR" dev "$NODE_LINK" src "$NODE_IP"
  # Pods reach pods, Services (DNAT'ed to pods) and the node's own addresses; nothing they send is forwarded out of
  # another interface (forwarding is on while the node runs: the CNI bridge turns it on).
  iptables -N KG-NODE-FORWARD
  iptables -A KG-NODE-FORWARD -s "$POD_RANGE" -o "$POD_BRIDGE" -j RETURN
  iptables -A KG-NODE-FORWARD -s "$POD_RANGE" -j DROP
  iptables -A KG-NODE-FORWARD -d "$POD_RANGE" ! -o "$POD_BRIDGE" -j DROP
  iptables -I FORWARD 1 -j KG-NODE-FORWARD
}

# ---------------------------------------------------------------- configuration files
node_write_config() {
  local d="$NODE_DIR"
  mkdir -p "$d/cni/net.d" "$d/cni/ipam" "$d/certs.d/_default" "$d/kubelet" "$d/pod-logs" "$d/containerd"
  # No registry is reachable and none may be contacted: every registry host resolves to a closed loopback port.
  cat >"$d/certs.d/_default/hosts.toml" <<'EOF'
server = "http://127.0.0.1:1"
[host."http://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
EOF
  cat >"$d/containerd/config.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The VM lacks CAP_SYS_RESOURCE for the sandbox's -998 oom_score_adj; without this runc create fails.
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  cat >"$d/cni/net.d/10-kg-node.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kg-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$d/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
EOF
  # Pods get no DNS server: a lookup fails in the pod instead of reaching the machine's resolver.
  : >"$d/resolv.conf"
  cat >"$d/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
# cgroup v1 (hybrid) on this machine: kubelet refuses it by default since 1.35.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
resolvConf: $d/resolv.conf
clusterDomain: cluster.local
podLogsDir: $d/pod-logs
volumePluginDir: $d/kubelet/volume-plugins
maxPods: 60
serializeImagePulls: false
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
# A shared test machine: never evict for disk or memory pressure the node did not cause.
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
shutdownGracePeriod: 0s
EOF
  cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
mode: iptables
clusterCIDR: $POD_RANGE
# Every Service connection is masqueraded to the node: the reply of a pod on the same bridge returns through the host's
# conntrack even without bridge netfilter.
iptables:
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 30s
  minSyncPeriod: 0s
nodePortAddresses: ["$NODE_IP/32"]
# 0: leave the machine's conntrack table size and timeouts as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

node_make_pki() {
  new_cert ca kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  new_cert ca kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
  new_cert ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  new_cert ca kube-proxy "/CN=system:kube-proxy" clientAuth
  new_cert ca kube-scheduler "/CN=system:kube-scheduler" clientAuth
  write_kubeconfig "$STATE/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client
  write_kubeconfig "$STATE/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
  write_kubeconfig "$STATE/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
}

containerd_ok() { ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }
kubelet_ok() { curl -fsS --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" | grep -qx ok; }
proxy_ok() { curl -fsS --max-time 2 "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz" >/dev/null; }
node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# node_start <k8s bin dir>: containerd (with the pause image), then scheduler, kubelet, kube-proxy; waits until the
# node is Ready and kube-proxy healthy.
node_start() {
  local bin="$1" t0=$SECONDS
  start_component containerd "$(command -v containerd)" --config "$NODE_DIR/containerd/config.toml" --log-level warn
  wait_for containerd "containerd on $CONTAINERD_SOCK" containerd_ok
  ctr_k8s images import --no-unpack=false "$PAUSE_IMAGE_TAR" >/dev/null || die "ctr images import $PAUSE_IMAGE_TAR failed"
  # `podman save` of a localhost/ name keeps that name; check that the reference containerd was configured with exists.
  ctr_k8s images check "name==$PAUSE_IMAGE" | grep -q . || die "pause image $PAUSE_IMAGE not found in containerd after import"
  log "containerd ready with $PAUSE_IMAGE in $((SECONDS - t0))s"

  start_component kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$SCHEDULER_PORT" \
    --leader-elect=false
  start_component kubelet "$bin/kubelet" \
    --config="$NODE_DIR/kubelet/config.yaml" \
    --kubeconfig="$STATE/kubelet.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet/root" \
    --cert-dir="$NODE_DIR/kubelet/pki" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP"
  start_component kube-proxy "$bin/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml"
  wait_for kubelet "kubelet /healthz" kubelet_ok
  wait_for kubelet "node $NODE_NAME Ready" node_ready
  wait_for kube-proxy "kube-proxy /healthz" proxy_ok
  log "node $NODE_NAME Ready ($NODE_IP, pods $POD_CIDR, Services $NODE_SERVICE_CIDR) in $((SECONDS - t0))s"
}

node_healthy() {
  local c
  [[ -f "$NODE_DIR/enabled" ]] || return 1
  for c in "${NODE_COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  node_ready
}

# ---------------------------------------------------------------- down
# Remove every rule that jumps to, and every chain named, KUBE-* or KG-NODE-* (preflight refused to start when such
# chains existed, so they are all ours).
node_iptables_clean() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      "$cmd-save" -t "$table" >/dev/null 2>&1 || continue
      while IFS= read -r rule; do
        # shellcheck disable=SC2086
        eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
      done < <("$cmd-save" -t "$table" | grep -E '^-A ' | grep -vE '^-A (KUBE-|KG-NODE-)' | grep -E -- '-j (KUBE-|KG-NODE-)')
      for chain in $("$cmd-save" -t "$table" | sed -n 's/^:\(\(KUBE-\|KG-NODE-\)[^ ]*\) .*/\1/p'); do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd-save" -t "$table" | sed -n 's/^:\(\(KUBE-\|KG-NODE-\)[^ ]*\) .*/\1/p'); do
        "$cmd" -t "$table" -X "$chain" 2>/dev/null || log "could not delete $cmd -t $table chain $chain"
      done
    done
  done
}

# Unmount everything under the given directories, deepest first (lazy only when a plain unmount is refused).
unmount_under() {
  local dir m
  for dir in "$@"; do
    [[ -n "$dir" ]] || continue
    while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
    done < <(awk -v d="$dir" '{ p = $5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' /proc/self/mountinfo | sort -r)
  done
}

# Remove the kubepods cgroups the kubelet created (deepest first); only empty ones can go, so wait briefly.
node_cgroups_clean() {
  local c i left
  for c in "$CGROUP_ROOT"/*/; do
    [[ -d "$c/kubepods" ]] || continue
    grep -qxF "$c" "$NODE_DIR/kubepods.existed" 2>/dev/null && continue
    for ((i = 0; i < 20; i++)); do
      find "$c/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [[ -d "$c/kubepods" ]] || break
      sleep 0.25
    done
    [[ -d "$c/kubepods" ]] && left+=" $c/kubepods"
  done
  [[ -z "${left:-}" ]] || log "cgroups left (a process still in them?):$left"
}

node_down() {
  [[ -d "$NODE_DIR" ]] || return 0
  local pid s v i shims=()
  # shellcheck disable=SC1091
  [[ -f "$NODE_DIR/settings" ]] && source "$NODE_DIR/settings"
  # 1. kubelet, kube-proxy and the scheduler first, so nothing restarts the containers.
  stop_group kubelet kube-proxy kube-scheduler
  # 2. Every container and sandbox: kill the tasks, then containerd and its shims (children it daemonized; found by
  #    the socket they serve, which is ours alone while we own $NODE_OWNER).
  if live_pid containerd >/dev/null; then
    for i in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$i" >/dev/null 2>&1 || true; done
    for ((i = 0; i < 20; i++)); do
      ctr_k8s tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"' | grep -q . || break
      sleep 0.25
    done
  fi
  for pid in $(pgrep -x containerd-shim-runc-v2 2>/dev/null || true); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-address $CONTAINERD_SOCK" && shims+=("$pid")
  done
  stop_group containerd
  for pid in "${shims[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # The control plane before the network: the API server's shutdown calls itself on the node address, and hung for
  # its 10 s once that address was gone.
  stop_all
  # 3. Mounts: sandbox /dev/shm and rootfs overlays under containerd's dirs, volumes under the kubelet root, the pods'
  #    network namespaces (only those created since `up`).
  unmount_under "$CONTAINERD_STATE" "$NODE_DIR/containerd/root" "$NODE_DIR/kubelet/root"
  local ns
  for ns in $(ls -1 /run/netns 2>/dev/null | sort | comm -23 - "$NODE_DIR/netns.before" 2>/dev/null); do
    [[ "$ns" == cni-* ]] || continue
    ip netns delete "$ns" 2>/dev/null || { umount "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; }
  done
  [[ -f "$NODE_DIR/containerd-state.existed" ]] || rm -rf "$CONTAINERD_STATE"
  [[ -f "$NODE_DIR/run-netns.existed" ]] || rmdir /run/netns 2>/dev/null || true
  # 4. Interfaces, routes, iptables.
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 && ip link del "$POD_BRIDGE"
  ip route del blackhole "$POD_RANGE" 2>/dev/null || true
  ip route del "$NODE_SERVICE_CIDR" 2>/dev/null || true
  ip link show "$NODE_LINK" >/dev/null 2>&1 && ip link del "$NODE_LINK"
  node_iptables_clean
  # 5. Conntrack entries of the pod and Service ranges (they would outlive the rules).
  conntrack -D -s "$POD_RANGE" >/dev/null 2>&1 || true
  conntrack -D -d "$NODE_SERVICE_CIDR" >/dev/null 2>&1 || true
  # 6. Cgroups, log dirs the kubelet creates outside its root, sysctls.
  node_cgroups_clean
  if [[ ! -f "$NODE_DIR/var-log-containers.existed" ]]; then
    rm -rf /var/log/containers
  else
    find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete 2>/dev/null || true
  fi
  [[ -f "$NODE_DIR/var-log-pods.existed" ]] || rm -rf /var/log/pods
  while IFS='=' read -r s v; do
    [[ -n "$s" ]] || continue
    [[ "$(sysctl -n "$s" 2>/dev/null)" == "$v" ]] || sysctl -qw "$s=$v" >/dev/null || log "could not restore $s=$v"
  done <"$NODE_DIR/sysctl.before"
  [[ "$(cat "$NODE_OWNER" 2>/dev/null)" == "$STATE" ]] && rm -f "$NODE_OWNER"
  log "node removed: processes, interfaces $NODE_LINK/$POD_BRIDGE, routes, iptables chains, mounts, cgroups, sysctls"
}

# node_load_image <image>: `podman save` of a local image, imported into the node's containerd (k8s.io namespace).
node_load_image() {
  local ref="$1" t0=$SECONDS
  [[ -f "$NODE_DIR/enabled" ]] || die "no node in $STATE (run: $0 up --node)"
  containerd_ok || die "containerd of the node in $STATE does not answer"
  podman image exists "$ref" || die "podman has no image $ref (build it first, e.g. IMAGE=$ref hack/image-test.sh)"
  podman save --format docker-archive "$ref" | ctr_k8s images import --no-unpack=false - >/dev/null \
    || die "importing $ref into containerd failed"
  log "image $ref imported into the node's containerd in $((SECONDS - t0))s"
}
