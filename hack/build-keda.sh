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
TAG=build-keda LABEL=KEDA CACHE_NAME=keda DIR_VAR=KEDA_DIR
MODDIR="$ROOT/hack/tools/keda"
MODULE=github.com/kedacore/keda/v2
VERSION_RE='^v2\.[0-9]+\.[0-9]+$'
# shellcheck source=lib/go-release.sh
source "$ROOT/hack/lib/go-release.sh"

complete() {
  [[ -x "$OUT_DIR/keda-operator" && -x "$OUT_DIR/keda-adapter" && -f "$OUT_DIR/crds/keda.sh_scaledobjects.yaml" \
    && -f "$OUT_DIR/rbac/role.yaml" && -f "$OUT_DIR/externalscaler.proto" ]]
}

release_version
release_cached_or_lock
release_source

adapter_main="$work/src/cmd/adapter/main.go"
listen_line='metricsBindAddress := fmt.Sprintf(":%v", metricsAPIServerPort)'
[[ "$(grep -cF "$listen_line" "$adapter_main")" == 1 ]] \
  || die "cmd/adapter/main.go has no single line '$listen_line' to bind the /metrics server to loopback"
sed -i 's|fmt.Sprintf(":%v", metricsAPIServerPort)|fmt.Sprintf("127.0.0.1:%v", metricsAPIServerPort)|' "$adapter_main"
grep -qF 'fmt.Sprintf("127.0.0.1:%v", metricsAPIServerPort)' "$adapter_main" || die "patching $adapter_main failed"
log "KEDA $VERSION: cmd/adapter/main.go: /metrics server bound to 127.0.0.1 (the only source change)"

release_deps

# The variables KEDA's own Makefile sets (GO_LDFLAGS), so the logs and /version report the release.
ldflags="-s -w -X $MODULE/version.Version=$VERSION -X $MODULE/version.GitCommit=$VERSION"
# The package paths are those of KEDA's Makefile (build: cmd/operator, cmd/adapter).
release_build keda-operator ./cmd/operator "$ldflags"
release_build keda-adapter ./cmd/adapter "$ldflags"

# Manifests and the proto, each directory written whole and renamed into place.
c="$work/src/config"
mkdir "$work/crds" "$work/rbac"
cp "$c"/crd/bases/*.yaml "$work/crds/"
cp "$c/general/namespace.yaml" "$c/service_account/service_account.yaml" \
  "$c/rbac/role.yaml" "$c/rbac/role_binding.yaml" "$c/rbac/aggregate_cluster_roles.yaml" "$work/rbac/"
cp "$c/metrics-server/role.yaml" "$work/rbac/metrics-server-role.yaml"
cp "$c/metrics-server/role_binding.yaml" "$work/rbac/metrics-server-role_binding.yaml"
cp "$work/src/pkg/scalers/externalscaler/externalscaler.proto" "$work/externalscaler.proto"
release_install_dir crds
release_install_dir rbac
mv -f "$work/externalscaler.proto" "$OUT_DIR/externalscaler.proto"
log "KEDA $VERSION: $(ls "$OUT_DIR/crds" | wc -l) CRDs, $(ls "$OUT_DIR/rbac" | wc -l) RBAC manifests, externalscaler.proto -> $OUT_DIR"
release_done
