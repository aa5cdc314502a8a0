# Shared settings and helpers of tests/cluster/up.sh and down.sh. Sourced, never run.
#
# Everything the cluster writes lives under $CLUSTER_DIR (state, logs, PID files, mounts) and
# $CACHE_DIR (builds, kept across `down.sh` so a warm `up.sh` rebuilds nothing). Both are outside
# the clone. Processes are tracked by PID files; nothing is found "by name" except the
# containerd shims and pod processes, which up.sh's containerd and kubelet start on its behalf
# and which are identified by our containerd socket and our pod cgroup root.

# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are used by the scripts that source this file
set -euo pipefail

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_SRC/../.." && pwd)
CLUSTER_DIR=${PROCTOR_CLUSTER_DIR:-/var/lib/proctor-test-cluster}
CACHE_DIR=${PROCTOR_CACHE_DIR:-/var/cache/proctor}

# The pinned Kubernetes release is the one tests/cluster/k8s/go.mod requires.
K8S_VERSION=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$CLUSTER_SRC/k8s/go.mod")
[[ -n $K8S_VERSION ]] || { echo "no k8s.io/kubernetes version in $CLUSTER_SRC/k8s/go.mod" >&2; exit 1; }

NODE_NAME=proctor-node
BRIDGE=proctor0
POD_CIDR=10.123.0.0/24
NODE_IP=10.123.0.1 # the bridge's address: pods' gateway, the node IP and the API's advertised IP
SERVICE_CIDR=10.123.1.0/24
API_SERVICE_IP=10.123.1.1
API_PORT=6443
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
# cgroup parent of every pod, so that pod processes can be found and stopped without the kubelet
CGROUP_ROOT=proctor-test

PROBE_IMAGE=proctor.local/probe:v1
PAUSE_IMAGE=proctor.local/pause:v1

BIN=$CLUSTER_DIR/bin
PKI=$CLUSTER_DIR/pki
CONF=$CLUSTER_DIR/config
LOGS=$CLUSTER_DIR/logs
PIDS=$CLUSTER_DIR/pids
RUN=$CLUSTER_DIR/run
CONTAINERD_SOCK=$RUN/containerd.sock
KUBECONFIG_ADMIN=$CLUSTER_DIR/admin.kubeconfig

# Started in this order by up.sh and stopped in the reverse order by down.sh.
COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

export GOMODCACHE=${GOMODCACHE:-$CACHE_DIR/go/mod}
export GOCACHE=${GOCACHE:-$CACHE_DIR/go/build}
export GOFLAGS=${GOFLAGS:--mod=mod}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
export PATH=$BIN:/usr/local/go/bin:$HOME/.cargo/bin:$PATH

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# pid_of NAME: the recorded PID of a component, if that process is still the one we started.
pid_of() {
  local file=$PIDS/$1.pid pid argv0 ours="(^|/)$1\$"
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  # A recycled PID belongs to some other program: only trust it if it runs our binary.
  IFS= read -r -d '' argv0 <"/proc/$pid/cmdline" || [[ -n $argv0 ]] || return 1
  [[ $argv0 =~ $ours ]] || return 1
  echo "$pid"
}

# stop_pid NAME PID [SECONDS]: TERM, then KILL after the grace period.
stop_pid() {
  local name=$1 pid=$2 grace=${3:-15} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for ${grace}s; killing"
  kill -KILL "$pid" 2>/dev/null || true
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=20s "$@"; }
