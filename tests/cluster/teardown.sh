# The teardown routine shared by down.sh and by up.sh (which clears a dead cluster's leftovers
# before starting afresh). Sourced after lib.sh, never run.
#
# Stops, in order: the recorded components (newest first), every process left in the pod cgroup
# root, the containerd shims serving our containerd socket; then unmounts everything mounted
# below the cluster directory, removes the pod cgroups, the bridge, the routes and iptables rules
# up.sh added, and the cluster directory. Works from any partial state: a missing PID file, a dead
# process or an absent mount is simply skipped. The build cache is left alone.

# shellcheck shell=bash
# shellcheck disable=SC2153 # PIDS and friends come from lib.sh

teardown() {
  local i name pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name=${COMPONENTS[i]}
    if pid=$(pid_of "$name"); then
      log "stopping $name (pid $pid)"
      stop_pid "$name" "$pid"
    fi
    rm -f "$PIDS/$name.pid"
  done
  kill_pod_processes
  kill_shims
  unmount_below "$CLUSTER_DIR"
  remove_pod_cgroups
  clean_host_network
  if [[ -d $CLUSTER_DIR ]]; then
    # --one-file-system: a mount that could not be removed is left alone, never emptied.
    rm -rf --one-file-system "$CLUSTER_DIR"
  fi
  find /var/log/containers -maxdepth 1 -xtype l -lname "$CLUSTER_DIR/*" -delete 2>/dev/null || true
}

# Every process in our pod cgroups: containers and pause processes whose shims are gone.
kill_pod_processes() {
  local round pids
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(find /sys/fs/cgroup/*/"$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)
    [[ -z $pids ]] && return 0
    ((round == 1)) && log "killing $(wc -w <<<"$pids") leftover pod processes"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  log "warning: pod processes survived SIGKILL: $pids"
}

kill_shims() {
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK( |\$)" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# unmount_below DIR: every mount point at or below DIR, deepest first.
unmount_below() {
  local dir=$1 mnt
  [[ -d $dir ]] || return 0
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || log "warning: cannot unmount $mnt"
  done
}

remove_pod_cgroups() {
  local root
  for root in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d $root ]] || continue
    find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

clean_host_network() {
  if [[ -x $BIN/kube-proxy ]]; then
    "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  # What kube-proxy --cleanup leaves: the kubelet's own chains, and up.sh's isolation chain.
  local ipt table
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in filter nat mangle; do
      remove_chains "$ipt" "$table" KUBE-
      remove_chains "$ipt" "$table" PROCTOR-
    done
  done
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
}

# remove_chains IPTABLES TABLE PREFIX: the chains named PREFIX*, and the jumps to them from the
# built-in chains.
remove_chains() {
  local ipt=$1 table=$2 prefix=$3 rule chain chains
  { "$ipt" -t "$table" -S 2>/dev/null || true; } | { grep -E "^-A [A-Z]+ .*-j $prefix" || true; } |
    sed 's/^-A /-D /' | while read -r rule; do
      eval "\"\$ipt\" -t \"\$table\" $rule" 2>/dev/null || true
    done
  chains=$({ "$ipt" -t "$table" -S 2>/dev/null || true; } | awk -v p="$prefix" '$1 == "-N" && index($2, p) == 1 { print $2 }')
  for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
  for chain in $chains; do "$ipt" -t "$table" -X "$chain" 2>/dev/null || true; done
}
