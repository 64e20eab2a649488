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
TAG=build-prometheus-adapter LABEL=prometheus-adapter CACHE_NAME=prometheus-adapter DIR_VAR=PROMETHEUS_ADAPTER_DIR
MODDIR="$ROOT/hack/tools/prometheus-adapter"
MODULE=sigs.k8s.io/prometheus-adapter
VERSION_RE='^v0\.[0-9]+\.[0-9]+$'
# shellcheck source=lib/go-release.sh
source "$ROOT/hack/lib/go-release.sh"

complete() { [[ -x "$OUT_DIR/prometheus-adapter" ]]; }

release_version
release_cached_or_lock
release_source
release_deps
# Symbol tables stripped (-s -w), as hack/build-keda.sh does; they only matter to a debugger.
release_build prometheus-adapter ./cmd/adapter "-s -w"
release_done
