# The Go settings of the tool builds in tests/tools/: module and build caches outside the clone
# (so warm runs rebuild nothing), the local toolchain only, static binaries. Sourced, never run.
# shellcheck shell=bash
CACHE_DIR=${PROCTOR_CACHE_DIR:-/var/cache/proctor}
export GOMODCACHE=${GOMODCACHE:-$CACHE_DIR/go/mod}
export GOCACHE=${GOCACHE:-$CACHE_DIR/go/build}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=-mod=mod
export CGO_ENABLED=0
