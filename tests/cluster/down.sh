#!/usr/bin/env bash
# Stops the test cluster that tests/cluster/up.sh started (by its recorded PIDs, then the shims
# and pod processes those started) and removes its state. Build caches are kept, so a later
# up.sh starts quickly. Safe to run when nothing is up.

# shellcheck source=tests/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/cluster/teardown.sh
source "$CLUSTER_SRC/teardown.sh"

[[ $(id -u) == 0 ]] || die "down.sh needs root"
teardown
log "cluster down"
