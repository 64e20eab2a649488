#!/usr/bin/env bash
# Builds (or reuses) upstream Kyverno, the CLI (`kyverno`, cmd/cli/kubectl-kyverno) and the admission controller
# (cmd/kyverno), at the release pinned in hack/tools/kyverno/go.mod, for the peer benchmarks (bench/peers/kyverno-*.ts:
# `kyverno apply` against `governor review`, and Kyverno's webhook against governor's on hack/local-cluster.sh).
#
# Kyverno's go.mod has a replace directive, which Go ignores when Kyverno is a dependency (`go install …@v1.19.1`
# refuses). So the wrapper module only pins the release (its go.sum holds Kyverno's own hashes: `go mod download`
# checks the zip against them), and the build runs inside a writable copy of the downloaded module, where Kyverno's
# own go.mod, go.sum and replace apply. No source change: every listener of cmd/kyverno takes a host flag
# (--webhookServerHost, --metricsHost), which the bench sets to 127.0.0.1.
#
# Output, in a cache outside the repo keyed by version:
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/kyverno-v1.X.Y/kyverno             (cmd/cli/kubectl-kyverno)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/kyverno-v1.X.Y/kyverno-controller  (cmd/kyverno, the admission
#       controller)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/kyverno-v1.X.Y/crds/*.yaml         (config/crds/**)
# Each is written to a temp name and renamed, so an interrupted build is never taken for a cached one. A cached run
# needs no Go toolchain.
#
# Environment:
#   KUBE_GOVERNOR_CACHE   cache root (default $HOME/.cache/kube-governor)
#   KG_BUILD_JOBS         go build -p (default 2)
#
# Output: progress on stderr; the last stdout line is KYVERNO_DIR=<dir holding the binaries and crds/>.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/hack/tools/kyverno"
MODULE=github.com/kyverno/kyverno
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[build-kyverno %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

VERSION="$(awk -v m="$MODULE" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MODDIR/go.mod")"
[[ "$VERSION" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "cannot read the $MODULE version from $MODDIR/go.mod (got '$VERSION')"
OUT_DIR="$CACHE/kyverno-$VERSION"
mkdir -p "$OUT_DIR"

complete() {
  [[ -x "$OUT_DIR/kyverno" && -x "$OUT_DIR/kyverno-controller" && -f "$OUT_DIR/crds/kyverno.io_clusterpolicies.yaml" ]]
}

if complete; then
  log "Kyverno $VERSION: cached ($OUT_DIR)"
  echo "KYVERNO_DIR=$OUT_DIR"
  exit 0
fi

# One build at a time per cache (parallel runs may all call this); the other builds use their own locks.
exec 9>"$CACHE/.build-kyverno.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build-kyverno.lock; waiting"
  flock 9
fi
if complete; then
  log "Kyverno $VERSION: built by the other run ($OUT_DIR)"
  echo "KYVERNO_DIR=$OUT_DIR"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH (Kyverno $VERSION needs the Go its go.mod names)"
START=$SECONDS
# GOTOOLCHAIN=local: never download another toolchain (a Kyverno release whose go.mod names a newer Go than this
# machine's fails here, with the go command's own message). -mod=readonly: go.sum is committed and must match.
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"

log "Kyverno $VERSION: go mod download (checked against $MODDIR/go.sum) with $(go version | awk '{print $3}')"
dl="$(cd "$MODDIR" && go mod download -json "$MODULE")" || die "go mod download $MODULE failed: $dl"
src="$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download gave no module directory: $dl"

work="$(mktemp -d "$OUT_DIR/.build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The module cache is read-only; a copy is a main module of its own (Kyverno's go.mod, go.sum, replace).
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"

t0=$SECONDS
log "Kyverno $VERSION: go mod download of Kyverno's dependencies (its go.sum)"
(cd "$work/src" && go mod download) || die "downloading Kyverno's dependencies failed after $(elapsed "$t0")"
log "Kyverno $VERSION: dependencies ready in $(elapsed "$t0")"

# The variable Kyverno's own Makefile sets (LD_FLAGS), so `kyverno version` and the logs report the release.
ldflags="-s -w -X $MODULE/pkg/version.BuildVersion=$VERSION"
# name:package; the package paths are those of Kyverno's Makefile (CLI_DIR, KYVERNO_DIR).
for spec in kyverno:./cmd/cli/kubectl-kyverno kyverno-controller:./cmd/kyverno; do
  name="${spec%%:*}" pkg="${spec#*:}"
  if [[ -x "$OUT_DIR/$name" ]]; then
    log "$name: cached"
    continue
  fi
  t0=$SECONDS
  log "$name: building $MODULE/${pkg#./} (minutes on 2 cores)"
  (cd "$work/src" && go build -trimpath -p "$JOBS" -ldflags "$ldflags" -o "$work/$name" "$pkg") \
    || die "$name: go build failed after $(elapsed "$t0")"
  mv -f "$work/$name" "$OUT_DIR/$name"
  log "$name: built in $(elapsed "$t0") -> $OUT_DIR/$name"
done

# Every CRD of the release (kyverno.io, policies.kyverno.io, reports, policy reports): the admission controller's
# informers wait for all of them. Written whole and renamed into place.
mkdir "$work/crds"
cp "$work/src"/config/crds/*/*.yaml "$work/crds/"
rm -rf "$OUT_DIR/crds"
mv "$work/crds" "$OUT_DIR/crds"
log "Kyverno $VERSION: $(ls "$OUT_DIR/crds" | wc -l) CRDs -> $OUT_DIR/crds"

log "Kyverno $VERSION: done in $(elapsed "$START") -> $OUT_DIR"
echo "KYVERNO_DIR=$OUT_DIR"
