#!/usr/bin/env bash
# Runs the conformance TestRun (examples/conformance.yaml: the probe catalog but the two
# container-probe kinds, which examples/container-probes.yaml holds) end to end
# and prints the verdicts. Uses the cluster of $KUBECONFIG when one answers; otherwise brings up
# the local test cluster (tests/cluster/up.sh, needs root) and uses that. Builds proctor, installs
# the CRD, runs the controller for the length of the run (namespace-scoped), and cleans up.
#
#   examples/run-conformance.sh [RUNTIME_CLASS]     e.g. runc, or faulty-env to see a fault caught
#
# Exits 0 when no probe failed or errored.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runtime_class=${1:-}
namespace="proctor-conformance"
kubectl=kubectl
if ! { [[ -n ${KUBECONFIG:-} || -f $HOME/.kube/config ]] && kubectl --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }; then
  echo "no cluster answers: bringing up the local test cluster" >&2
  KUBECONFIG=$(tests/cluster/up.sh | tail -n 1)
  export KUBECONFIG
  kubectl=/var/lib/proctor-test-cluster/bin/kubectl
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/proctor/target}
cargo build --quiet --locked --bin proctor
proctor=$CARGO_TARGET_DIR/debug/proctor

"$proctor" crd | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
"$kubectl" create namespace "$namespace" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
"$kubectl" label namespace "$namespace" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
"$kubectl" delete testrun conformance -n "$namespace" --ignore-not-found --wait=true >/dev/null

log=$(mktemp)
# The probe image: the cluster's own (kube-public/proctor-defaults; the local test cluster names
# its locally built one there), else busybox.
"$proctor" controller --namespace "$namespace" >"$log" 2>&1 &
controller=$!
trap 'kill "$controller" 2>/dev/null || true; rm -f "$log"' EXIT

if [[ -n $runtime_class ]]; then
  sed "s/^spec:/spec:\n  runtimeClassName: $runtime_class/" examples/conformance.yaml
else
  cat examples/conformance.yaml
fi | "$kubectl" apply -n "$namespace" -f - >/dev/null

echo "running examples/conformance.yaml in namespace $namespace${runtime_class:+ under $runtime_class}..." >&2
if ! "$kubectl" wait -n "$namespace" testrun/conformance --for=condition=Ready --timeout=600s >/dev/null; then
  echo "the run did not finish; controller log:" >&2
  cat "$log" >&2
  exit 2
fi
"$kubectl" get testrun conformance -n "$namespace"
echo
"$kubectl" get testrun conformance -n "$namespace" -o \
  jsonpath='{range .status.probes[*]}{.verdict}{"\t"}{.name}{"\t"}{.message}{"\n"}{end}' |
  awk -F'\t' '{ printf "%-8s %-30s %s\n", $1, $2, substr($3, 1, 110) }'
phase=$("$kubectl" get testrun conformance -n "$namespace" -o jsonpath='{.status.phase}')
[[ $phase == Succeeded ]]
