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
TAG=build-kyverno LABEL=Kyverno CACHE_NAME=kyverno DIR_VAR=KYVERNO_DIR
MODDIR="$ROOT/hack/tools/kyverno"
MODULE=github.com/kyverno/kyverno
VERSION_RE='^v1\.[0-9]+\.[0-9]+$'
# shellcheck source=lib/go-release.sh
source "$ROOT/hack/lib/go-release.sh"

complete() {
  [[ -x "$OUT_DIR/kyverno" && -x "$OUT_DIR/kyverno-controller" && -f "$OUT_DIR/crds/kyverno.io_clusterpolicies.yaml" ]]
}

release_version
release_cached_or_lock
release_source
release_deps

# The variable Kyverno's own Makefile sets (LD_FLAGS), so `kyverno version` and the logs report the release.
ldflags="-s -w -X $MODULE/pkg/version.BuildVersion=$VERSION"
# The package paths are those of Kyverno's Makefile (CLI_DIR, KYVERNO_DIR).
release_build kyverno ./cmd/cli/kubectl-kyverno "$ldflags"
release_build kyverno-controller ./cmd/kyverno "$ldflags"

# Every CRD of the release (kyverno.io, policies.kyverno.io, reports, policy reports): the admission controller's
# informers wait for all of them.
mkdir "$work/crds"
cp "$work/src"/config/crds/*/*.yaml "$work/crds/"
release_install_dir crds
log "Kyverno $VERSION: $(ls "$OUT_DIR/crds" | wc -l) CRDs -> $OUT_DIR/crds"
release_done
