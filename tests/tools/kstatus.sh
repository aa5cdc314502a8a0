#!/usr/bin/env bash
# Prints the path of kstatus-check (tests/tools/kstatus/: sigs.k8s.io/cli-utils' kstatus on a
# JSON object from stdin), building it first through the Go module proxy when its sources changed.
#
#   KSTATUS=$(tests/tools/kstatus.sh)
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/kstatus" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"

key=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
bin=$CACHE_DIR/bin/kstatus-check-$key
if [[ ! -x $bin ]]; then
  echo "building kstatus-check from its Go module" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && go build -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
