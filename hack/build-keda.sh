#!/usr/bin/env bash
# Builds (or reuses) upstream KEDA, the operator and the metrics API server (adapter), at the release pinned in
# hack/tools/keda/go.mod, for the e2e tests that drive a ScaledObject with an `external` trigger
# (test/e2e/lib/keda.ts runs them as host processes against hack/local-cluster.sh).
#
# KEDA's go.mod has replace and exclude directives, which Go ignores when KEDA is a dependency. So the wrapper module
# only pins the release (its go.sum holds KEDA's own hashes: `go mod download` checks the zip against them), and the
# build runs inside a writable copy of the downloaded module, where KEDA's own go.mod, go.sum and replaces apply.
#
# One change to the source, so that every listener can be put on loopback: the adapter's Prometheus /metrics server
# listens on ":<--port>" (every interface; no flag takes an address), and the build makes it "127.0.0.1:<--port>".
# The script fails if that line is not found exactly once (a new release moved it: look again).
#
# Output, in a cache outside the repo keyed by version:
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/keda-v2.X.Y/keda-operator         (cmd/operator)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/keda-v2.X.Y/keda-adapter          (cmd/adapter, patched as above)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/keda-v2.X.Y/crds/*.yaml           (config/crd/bases)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/keda-v2.X.Y/rbac/*.yaml           (namespace, ServiceAccount and
#       RBAC from config/general, config/service_account, config/rbac, config/metrics-server/role*.yaml)
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/keda-v2.X.Y/externalscaler.proto  (pkg/scalers/externalscaler)
# Each is written to a temp name and renamed, so an interrupted build is never taken for a cached one. A cached run
# needs no Go toolchain.
#
# Environment:
#   KUBE_GOVERNOR_CACHE   cache root (default $HOME/.cache/kube-governor)
#   KG_BUILD_JOBS         go build -p (default 2)
#
# Output: progress on stderr; the last stdout line is KEDA_DIR=<dir holding the binaries and crds/>.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/hack/tools/keda"
MODULE=github.com/kedacore/keda/v2
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[build-keda %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

VERSION="$(awk -v m="$MODULE" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MODDIR/go.mod")"
[[ "$VERSION" =~ ^v2\.[0-9]+\.[0-9]+$ ]] || die "cannot read the $MODULE version from $MODDIR/go.mod (got '$VERSION')"
OUT_DIR="$CACHE/keda-$VERSION"
mkdir -p "$OUT_DIR"

complete() {
  [[ -x "$OUT_DIR/keda-operator" && -x "$OUT_DIR/keda-adapter" && -f "$OUT_DIR/crds/keda.sh_scaledobjects.yaml" \
    && -f "$OUT_DIR/rbac/role.yaml" && -f "$OUT_DIR/externalscaler.proto" ]]
}

if complete; then
  log "KEDA $VERSION: cached ($OUT_DIR)"
  echo "KEDA_DIR=$OUT_DIR"
  exit 0
fi

# One build at a time per cache (parallel test runs may all call this); the other builds use their own locks.
exec 9>"$CACHE/.build-keda.lock"
if ! flock -n 9; then
  log "another build holds $CACHE/.build-keda.lock; waiting"
  flock 9
fi
if complete; then
  log "KEDA $VERSION: built by the other run ($OUT_DIR)"
  echo "KEDA_DIR=$OUT_DIR"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH (KEDA $VERSION needs the Go its go.mod names)"
START=$SECONDS
# GOTOOLCHAIN=local: never download another toolchain (a KEDA release whose go.mod names a newer Go than this
# machine's fails here, with the go command's own message). -mod=readonly: go.sum is committed and must match.
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"

log "KEDA $VERSION: go mod download (checked against $MODDIR/go.sum) with $(go version | awk '{print $3}')"
dl="$(cd "$MODDIR" && go mod download -json "$MODULE")" || die "go mod download $MODULE failed: $dl"
src="$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download gave no module directory: $dl"

work="$(mktemp -d "$OUT_DIR/.build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The module cache is read-only; a copy is a main module of its own (KEDA's go.mod, go.sum, replace, exclude).
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
adapter_main="$work/src/cmd/adapter/main.go"
listen_line='metricsBindAddress := fmt.Sprintf(":%v", metricsAPIServerPort)'
[[ "$(grep -cF "$listen_line" "$adapter_main")" == 1 ]] \
  || die "cmd/adapter/main.go has no single line '$listen_line' to bind the /metrics server to loopback"
sed -i 's|fmt.Sprintf(":%v", metricsAPIServerPort)|fmt.Sprintf("127.0.0.1:%v", metricsAPIServerPort)|' "$adapter_main"
grep -qF 'fmt.Sprintf("127.0.0.1:%v", metricsAPIServerPort)' "$adapter_main" || die "patching $adapter_main failed"
log "KEDA $VERSION: cmd/adapter/main.go: /metrics server bound to 127.0.0.1 (the only source change)"

t0=$SECONDS
log "KEDA $VERSION: go mod download of KEDA's dependencies (its go.sum)"
(cd "$work/src" && go mod download) || die "downloading KEDA's dependencies failed after $(elapsed "$t0")"
log "KEDA $VERSION: dependencies ready in $(elapsed "$t0")"

# The variables KEDA's own Makefile sets (GO_LDFLAGS), so the logs and /version report the release.
ldflags="-s -w -X $MODULE/version.Version=$VERSION -X $MODULE/version.GitCommit=$VERSION"
# name:package; the package paths are those of KEDA's Makefile (build: cmd/operator, cmd/adapter).
for spec in keda-operator:./cmd/operator keda-adapter:./cmd/adapter; do
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

# Manifests and the proto, each directory written whole and renamed into place.
c="$work/src/config"
mkdir "$work/crds" "$work/rbac"
cp "$c"/crd/bases/*.yaml "$work/crds/"
cp "$c/general/namespace.yaml" "$c/service_account/service_account.yaml" \
  "$c/rbac/role.yaml" "$c/rbac/role_binding.yaml" "$c/rbac/aggregate_cluster_roles.yaml" "$work/rbac/"
cp "$c/metrics-server/role.yaml" "$work/rbac/metrics-server-role.yaml"
cp "$c/metrics-server/role_binding.yaml" "$work/rbac/metrics-server-role_binding.yaml"
cp "$work/src/pkg/scalers/externalscaler/externalscaler.proto" "$work/externalscaler.proto"
for d in crds rbac; do
  rm -rf "$OUT_DIR/$d"
  mv "$work/$d" "$OUT_DIR/$d"
done
mv -f "$work/externalscaler.proto" "$OUT_DIR/externalscaler.proto"
log "KEDA $VERSION: $(ls "$OUT_DIR/crds" | wc -l) CRDs, $(ls "$OUT_DIR/rbac" | wc -l) RBAC manifests, externalscaler.proto -> $OUT_DIR"

log "KEDA $VERSION: done in $(elapsed "$START") -> $OUT_DIR"
echo "KEDA_DIR=$OUT_DIR"
