#!/usr/bin/env bash
# Builds (or reuses) upstream prometheus-adapter (cmd/adapter) at the release pinned in
# hack/tools/prometheus-adapter/go.mod, for the peer benchmark (bench/peers/adapter.ts runs it as a host process
# against hack/local-cluster.sh, next to the governor adapter).
#
# As for KEDA (hack/build-keda.sh): the wrapper module only pins the release (its go.sum holds the module's own hashes:
# `go mod download` checks the zip against them), and the build runs inside a writable copy of the downloaded module,
# where prometheus-adapter's own go.mod and go.sum apply. No source change: its one listener takes --bind-address.
#
# Output, in a cache outside the repo keyed by version:
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/prometheus-adapter-v0.X.Y/prometheus-adapter   (cmd/adapter)
# Written to a temp name and renamed, so an interrupted build is never taken for a cached one. A cached run needs no
# Go toolchain.
#
# Environment:
#   KUBE_GOVERNOR_CACHE   cache root (default $HOME/.cache/kube-governor)
#   KG_BUILD_JOBS         go build -p (default 2)
#
# Output: progress on stderr; the last stdout line is PROMETHEUS_ADAPTER_DIR=<dir holding the binary>.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/hack/tools/prometheus-adapter"
MODULE=sigs.k8s.io/prometheus-adapter
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[build-prometheus-adapter %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

VERSION="$(awk -v m="$MODULE" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MODDIR/go.mod")"
[[ "$VERSION" =~ ^v0\.[0-9]+\.[0-9]+$ ]] || die "cannot read the $MODULE version from $MODDIR/go.mod (got '$VERSION')"
OUT_DIR="$CACHE/prometheus-adapter-$VERSION"
BIN="$OUT_DIR/prometheus-adapter"
mkdir -p "$OUT_DIR"

if [[ -x "$BIN" ]]; then
  log "prometheus-adapter $VERSION: cached ($OUT_DIR)"
  echo "PROMETHEUS_ADAPTER_DIR=$OUT_DIR"
  exit 0
fi

# One build at a time per cache (parallel runs may all call this).
exec 9>"$CACHE/.build-prometheus-adapter.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build-prometheus-adapter.lock; waiting"
  flock 9
fi
if [[ -x "$BIN" ]]; then
  log "prometheus-adapter $VERSION: built by the other run ($OUT_DIR)"
  echo "PROMETHEUS_ADAPTER_DIR=$OUT_DIR"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH (prometheus-adapter $VERSION needs the Go its go.mod names)"
START=$SECONDS
# GOTOOLCHAIN=local: never download another toolchain. -mod=readonly: go.sum is committed and must match.
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"

log "prometheus-adapter $VERSION: go mod download (checked against $MODDIR/go.sum) with $(go version | awk '{print $3}')"
dl="$(cd "$MODDIR" && go mod download -json "$MODULE")" || die "go mod download $MODULE failed: $dl"
src="$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download gave no module directory: $dl"

work="$(mktemp -d "$OUT_DIR/.build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The module cache is read-only; a copy is a main module of its own (its go.mod and go.sum).
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"

t0=$SECONDS
log "prometheus-adapter $VERSION: go mod download of its dependencies (its go.sum)"
(cd "$work/src" && go mod download) || die "downloading prometheus-adapter's dependencies failed after $(elapsed "$t0")"
log "prometheus-adapter $VERSION: dependencies ready in $(elapsed "$t0")"

t0=$SECONDS
log "prometheus-adapter: building $MODULE/cmd/adapter (minutes on 2 cores)"
# Symbol tables stripped (-s -w), as hack/build-keda.sh does; they only matter to a debugger.
(cd "$work/src" && go build -trimpath -p "$JOBS" -ldflags "-s -w" -o "$work/prometheus-adapter" ./cmd/adapter) \
  || die "go build failed after $(elapsed "$t0")"
mv -f "$work/prometheus-adapter" "$BIN"
log "prometheus-adapter: built in $(elapsed "$t0") -> $BIN"

log "prometheus-adapter $VERSION: done in $(elapsed "$START") -> $OUT_DIR"
echo "PROMETHEUS_ADAPTER_DIR=$OUT_DIR"
