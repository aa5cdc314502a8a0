#!/usr/bin/env bash
# Prints the path of a helm binary of the pinned version, building it first from its Go module
# (through the Go module proxy) into the cache when it is not there yet.
#
#   HELM=$(tests/tools/helm.sh)
set -euo pipefail

HELM_VERSION=v3.22.0
CACHE_DIR=${PROCTOR_CACHE_DIR:-/var/cache/proctor}
export GOMODCACHE=${GOMODCACHE:-$CACHE_DIR/go/mod}
export GOCACHE=${GOCACHE:-$CACHE_DIR/go/build}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

bin=$CACHE_DIR/bin/helm-$HELM_VERSION
if [[ ! -x $bin ]]; then
  echo "building helm $HELM_VERSION from its Go module" >&2
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  GOBIN=$dir go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mkdir -p "$(dirname "$bin")"
  mv "$dir/helm" "$bin"
fi
echo "$bin"
