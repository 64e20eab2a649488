#!/usr/bin/env bash
# Builds (or reuses) the upstream control-plane binaries for the local e2e
# cluster: kube-apiserver, kube-controller-manager and kubectl at the release
# pinned in hack/tools/go.mod, and etcd at the release pinned in
# hack/tools/etcd/go.mod. Also installs Debian's prometheus if it is missing.
# With KG_NODE=1 (hack/local-cluster.sh up --node) also the node: kube-scheduler, kubelet and kube-proxy from the
# same module, and the sandbox (pause) image: hack/tools/pause built static into a FROM scratch image with podman,
# saved as an archive for `ctr images import` (no registry is reachable).
#
# Binaries go to a cache outside the repo, keyed by version:
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/k8s-v1.N.M/{kube-apiserver,kube-controller-manager,kubectl}
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/etcd-v3.X.Y/etcd
# Each binary is built to a temp file and renamed, so an interrupted build is
# never taken for a cached one. A second run only checks the files.
#
# Environment:
#   KUBE_GOVERNOR_CACHE   cache root (default $HOME/.cache/kube-governor)
#   KG_SKIP_PROMETHEUS=1  do not install prometheus
#   KG_BUILD_JOBS         go build -p (default 2)
#   KG_NODE=1             also build the node binaries and the pause image
#
# Output: progress on stderr; the last stdout lines are
#   K8S_BIN_DIR=<dir>
#   ETCD_BIN_DIR=<dir>
# and with KG_NODE=1
#   PAUSE_IMAGE=<image reference>
#   PAUSE_IMAGE_TAR=<docker archive of it>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/hack/tools"
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[build-control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Versions come from the pinned go.mod files (no go invocation needed, so a
# cached run works even without a Go toolchain).
mod_version() { # file module
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == "require") ? $3 : $2; print v; exit }' "$1"
}
K8S_VERSION="$(mod_version "$TOOLS/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(mod_version "$TOOLS/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || die "cannot read k8s.io/kubernetes version from $TOOLS/go.mod (got '$K8S_VERSION')"
K8S_MINOR="${BASH_REMATCH[1]}"
[[ "$ETCD_VERSION" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "cannot read etcd version from $TOOLS/etcd/go.mod (got '$ETCD_VERSION')"

K8S_DIR="$CACHE/k8s-$K8S_VERSION"
ETCD_DIR="$CACHE/etcd-$ETCD_VERSION"
mkdir -p "$K8S_DIR" "$ETCD_DIR"

# One build at a time per cache (parallel test runs may all call this).
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build.lock; waiting"
  flock 9
fi

START=$SECONDS
elapsed() { local s=$((SECONDS - ${1:-$START})); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

go_env_ok=""
check_go() {
  [[ -n "$go_env_ok" ]] && return 0
  command -v go >/dev/null || die "go is not on PATH (need Go >= $(awk '$1 == "go" {print $2; exit}' "$TOOLS/go.mod"))"
  log "using $(go version)"
  go_env_ok=1
}

# build_one <module dir> <package> <output file> [ldflags]
build_one() {
  local moddir="$1" pkg="$2" out="$3" ldflags="${4:-}"
  local name t0 tmp
  name="$(basename "$out")"
  if [[ -x "$out" ]]; then
    log "$name: cached ($out)"
    return 0
  fi
  check_go
  tmp="$(dirname "$out")/.$name.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  t0=$SECONDS
  log "$name: building $pkg (this takes minutes on 2 cores)"
  # GOTOOLCHAIN=local: never download another toolchain; fail instead.
  # -mod=readonly: go.sum is committed and must match.
  if ! (cd "$moddir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
        go build -trimpath -p "$JOBS" -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"); then
    rm -f "$tmp"
    die "$name: go build failed after $(elapsed "$t0")"
  fi
  mv -f "$tmp" "$out"
  trap - EXIT
  log "$name: built in $(elapsed "$t0") -> $out"
}

k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR -X $p.gitTreeState=clean"
done

log "Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, cache $CACHE"
build_one "$TOOLS/etcd" go.etcd.io/etcd/server/v3 "$ETCD_DIR/etcd"
for b in kube-apiserver kube-controller-manager kubectl; do
  build_one "$TOOLS" "k8s.io/kubernetes/cmd/$b" "$K8S_DIR/$b" "$k8s_ldflags"
done

pause_ref="" pause_tar=""
if [[ "${KG_NODE:-}" == 1 ]]; then
  for b in kube-scheduler kube-proxy kubelet; do
    build_one "$TOOLS" "k8s.io/kubernetes/cmd/$b" "$K8S_DIR/$b" "$k8s_ldflags"
  done
  # The tag follows the source, so an edited pause program is a new image (containerd keeps the old one apart).
  pause_sum="$(sha256sum "$TOOLS/pause/main.go" | cut -c1-12)"
  pause_ref="localhost/kube-governor-pause:$pause_sum"
  pause_tar="$CACHE/pause-$pause_sum.tar"
  if [[ -f "$pause_tar" ]]; then
    log "pause image: cached ($pause_tar)"
  else
    command -v podman >/dev/null || die "podman is not installed (hack/ensure-deps.sh installs it)"
    t0=$SECONDS
    pctx="$(mktemp -d "$CACHE/.pause.XXXXXX")"
    build_one "$TOOLS" ./pause "$pctx/pause"
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$pctx/Containerfile"
    # --network none: FROM scratch needs nothing; the archive is renamed into place only when complete.
    if ! podman --runtime runc build --network none -q -t "$pause_ref" -f "$pctx/Containerfile" "$pctx" >/dev/null \
      || ! podman save --format docker-archive -o "$pctx/pause.tar" "$pause_ref" >/dev/null; then
      rm -rf "$pctx"
      die "pause image: podman build/save failed"
    fi
    mv -f "$pctx/pause.tar" "$pause_tar"
    rm -rf "$pctx"
    log "pause image: $pause_ref built in $(elapsed "$t0") -> $pause_tar"
  fi
fi

# Prometheus (Debian package) for the metrics e2e tests.
if [[ "${KG_SKIP_PROMETHEUS:-}" != 1 ]] && ! command -v prometheus >/dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    log "prometheus is not on PATH and we are not root; install it with: apt-get install prometheus"
  else
    t0=$SECONDS
    log "prometheus: installing Debian package (apt-get update first)"
    # Never start the Debian service: policy-rc.d exit 101 forbids it.
    made_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      made_policy=1
    fi
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || rc=$?
    [[ -n "$made_policy" ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || die "prometheus: apt-get install failed (exit $rc)"
    log "prometheus: installed $(prometheus --version 2>&1 | head -1) in $(elapsed "$t0")"
  fi
fi

log "done in $(elapsed)"
"$K8S_DIR/kubectl" version --client 2>/dev/null | head -1 >&2 || true
echo "K8S_BIN_DIR=$K8S_DIR"
echo "ETCD_BIN_DIR=$ETCD_DIR"
if [[ -n "$pause_ref" ]]; then
  echo "PAUSE_IMAGE=$pause_ref"
  echo "PAUSE_IMAGE_TAR=$pause_tar"
fi
