#!/usr/bin/env bash
# Builds (or reuses) helm at the release pinned in hack/tools/helm/go.mod, for the chart tests
# (test/manifests/chart_test.ts: helm lint, helm template) and the in-cluster e2e (helm install).
#
# The binary goes to a cache outside the repo, keyed by version, like the control plane:
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/helm-v4.X.Y/helm
# It is built to a temp file and renamed, so an interrupted build is never taken for a cached one. A cached run
# needs no Go toolchain.
#
# Environment:
#   KUBE_GOVERNOR_CACHE   cache root (default $HOME/.cache/kube-governor)
#   KG_BUILD_JOBS         go build -p (default 2)
#
# Output: progress on stderr; the last stdout line is HELM=<path of the binary>.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/hack/tools/helm"
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

VERSION="$(awk '$1 == "helm.sh/helm/v4" { print $2; exit }' "$MODDIR/go.mod")"
[[ "$VERSION" =~ ^v4\.[0-9]+\.[0-9]+$ ]] || die "cannot read the helm.sh/helm/v4 version from $MODDIR/go.mod (got '$VERSION')"
OUT_DIR="$CACHE/helm-$VERSION"
OUT="$OUT_DIR/helm"
mkdir -p "$OUT_DIR"

if [[ -x "$OUT" ]]; then
  log "helm $VERSION: cached ($OUT)"
  echo "HELM=$OUT"
  exit 0
fi

# One build at a time per cache (parallel test runs may all call this); the control-plane build uses its own lock.
exec 9>"$CACHE/.build-helm.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build-helm.lock; waiting"
  flock 9
fi
if [[ -x "$OUT" ]]; then
  log "helm $VERSION: built by the other run ($OUT)"
  echo "HELM=$OUT"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH (need Go >= $(awk '$1 == "go" {print $2; exit}' "$MODDIR/go.mod"))"
log "helm $VERSION: building helm.sh/helm/v4/cmd/helm with $(go version | awk '{print $3}') (minutes on 2 cores)"
tmp="$OUT_DIR/.helm.tmp.$$"
trap 'rm -f "$tmp"' EXIT
t0=$SECONDS
# The version variables are the ones helm's own Makefile sets, so `helm version` reports the release.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$VERSION -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
# GOTOOLCHAIN=local: never download another toolchain. -mod=readonly: go.sum is committed and must match.
(cd "$MODDIR" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
  go build -trimpath -p "$JOBS" -ldflags "$ldflags" -o "$tmp" helm.sh/helm/v4/cmd/helm) \
  || die "go build failed after $((SECONDS - t0)) s"
mv -f "$tmp" "$OUT"
trap - EXIT
log "helm $VERSION: built in $((SECONDS - t0)) s -> $OUT"
"$OUT" version --short >&2 || true
echo "HELM=$OUT"
