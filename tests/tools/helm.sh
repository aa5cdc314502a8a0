#!/usr/bin/env bash
# Prints the path of a helm binary of the pinned version, building it first from its Go module
# (through the Go module proxy) into the cache when it is not there yet.
#
#   HELM=$(tests/tools/helm.sh)
set -euo pipefail

HELM_VERSION=v3.22.0
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"

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
