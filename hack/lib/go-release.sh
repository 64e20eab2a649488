# Shared steps of the scripts that build an upstream Go release pinned by a wrapper module in hack/tools/<name>
# (hack/build-keda.sh, hack/build-kyverno.sh, hack/build-prometheus-adapter.sh). Sourced, not run.
#
# The wrapper module only pins the release (its go.sum holds the module's own hashes: `go mod download` checks the zip
# against them); the build runs inside a writable copy of the downloaded module, where the release's own go.mod,
# go.sum, replace and exclude directives apply (Go ignores them when the release is a dependency). Everything lands in
# a cache outside the repo keyed by version, written under temp names and renamed, so an interrupted build is never
# taken for a cached one; a cached run needs no Go toolchain.
#
# The caller sets, then calls in this order:
#   TAG         log prefix (build-keda)            LABEL     name in messages (KEDA)
#   MODDIR      the wrapper module's directory      MODULE    the release's module path
#   VERSION_RE  what a version must look like       CACHE_NAME  cache directory prefix (keda -> keda-v2.X.Y)
#   DIR_VAR     the variable printed on the last stdout line (KEDA_DIR=<dir>)
#   complete()  true when every output is in $OUT_DIR
#   release_version; release_cached_or_lock; release_source; [patch $work/src]; release_deps;
#   release_build <name> <package> <ldflags> ...; [copy manifests from $work/src]; release_done
#
# Environment: KUBE_GOVERNOR_CACHE (cache root, default $HOME/.cache/kube-governor), KG_BUILD_JOBS (go build -p, default 2).

CACHE="${KUBE_GOVERNOR_CACHE:-$HOME/.cache/kube-governor}"
JOBS="${KG_BUILD_JOBS:-2}"

log() { printf '[%s %s] %s\n' "$TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# VERSION from the wrapper's go.mod; OUT_DIR, created.
release_version() {
  VERSION="$(awk -v m="$MODULE" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MODDIR/go.mod")"
  [[ "$VERSION" =~ $VERSION_RE ]] || die "cannot read the $MODULE version from $MODDIR/go.mod (got '$VERSION')"
  OUT_DIR="$CACHE/$CACHE_NAME-$VERSION"
  mkdir -p "$OUT_DIR"
}

# Exits 0 (printing DIR_VAR) when the cache is complete; else holds the cache's lock for this release's build, so that
# parallel runs build once (each release uses its own lock).
release_cached_or_lock() {
  if complete; then
    log "$LABEL $VERSION: cached ($OUT_DIR)"
    echo "$DIR_VAR=$OUT_DIR"
    exit 0
  fi
  exec 9>"$CACHE/.$TAG.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE/.$TAG.lock; waiting"
    flock 9
  fi
  if complete; then
    log "$LABEL $VERSION: built by the other run ($OUT_DIR)"
    echo "$DIR_VAR=$OUT_DIR"
    exit 0
  fi
}

# Downloads the release (checked against the wrapper's go.sum) and copies it to $work/src, writable; $work is removed on exit.
release_source() {
  command -v go >/dev/null || die "go is not on PATH ($LABEL $VERSION needs the Go its go.mod names)"
  START=$SECONDS
  # GOTOOLCHAIN=local: never download another toolchain (a release whose go.mod names a newer Go than this machine's
  # fails here, with the go command's own message). -mod=readonly: go.sum is committed and must match.
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
  log "$LABEL $VERSION: go mod download (checked against $MODDIR/go.sum) with $(go version | awk '{print $3}')"
  local dl src
  dl="$(cd "$MODDIR" && go mod download -json "$MODULE")" || die "go mod download $MODULE failed: $dl"
  src="$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download gave no module directory: $dl"
  work="$(mktemp -d "$OUT_DIR/.build.XXXXXX")"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  # The module cache is read-only; a copy is a main module of its own.
  cp -R "$src" "$work/src"
  chmod -R u+w "$work/src"
}

# The release's dependencies, checked against its own go.sum.
release_deps() {
  local t0=$SECONDS
  log "$LABEL $VERSION: go mod download of its dependencies (its go.sum)"
  (cd "$work/src" && go mod download) || die "downloading $LABEL's dependencies failed after $(elapsed "$t0")"
  log "$LABEL $VERSION: dependencies ready in $(elapsed "$t0")"
}

# release_build <name> <package> <ldflags>: $OUT_DIR/<name>, unless already there.
release_build() {
  local name="$1" pkg="$2" ldflags="$3" t0=$SECONDS
  if [[ -x "$OUT_DIR/$name" ]]; then
    log "$name: cached"
    return
  fi
  log "$name: building $MODULE/${pkg#./} (minutes on 2 cores)"
  (cd "$work/src" && go build -trimpath -p "$JOBS" -ldflags "$ldflags" -o "$work/$name" "$pkg") \
    || die "$name: go build failed after $(elapsed "$t0")"
  mv -f "$work/$name" "$OUT_DIR/$name"
  log "$name: built in $(elapsed "$t0") -> $OUT_DIR/$name"
}

# release_install_dir <name>: moves $work/<name> (written whole) to $OUT_DIR/<name>.
release_install_dir() {
  rm -rf "${OUT_DIR:?}/$1"
  mv "$work/$1" "$OUT_DIR/$1"
}

release_done() {
  log "$LABEL $VERSION: done in $(elapsed "$START") -> $OUT_DIR"
  echo "$DIR_VAR=$OUT_DIR"
}
