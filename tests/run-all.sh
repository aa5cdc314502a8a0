#!/usr/bin/env bash
# Runs every test Proctor has, in the order that fails fastest:
#   1. shellcheck, cargo fmt --check and clippy -D warnings, 2. unit tests (no cluster needed),
#   3. the real test cluster (tests/cluster/up.sh: builds and starts it when it is not up),
#   4. the operator image (umoci, no Docker engine) and helm, built from its Go module,
#   5. every test that needs the cluster (the `#[ignore]`d ones): cluster smoke tests, e2e,
#      and installing the operator with kubectl -k and with helm.
# Needs root (the cluster runs containerd, runc and a kubelet on this machine). Build caches go
# to /var/cache/proctor unless CARGO_TARGET_DIR / PROCTOR_CACHE_DIR say otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PROCTOR_CACHE_DIR=${PROCTOR_CACHE_DIR:-/var/cache/proctor}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PROCTOR_CACHE_DIR/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*" >&2; }

step "shellcheck"
# The linter; lua5.1 for the test of the Argo CD health check (Argo CD runs Lua 5.1); headless
# chromium and pdftotext for the HTML report's test.
missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v lua5.1 >/dev/null || missing+=(lua5.1)
command -v chromium >/dev/null || missing+=(chromium)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
if ((${#missing[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
shellcheck -x tests/cluster/*.sh tests/run-all.sh tests/tools/*.sh deploy/image/*.sh .ci/run

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "unit tests"
cargo test --workspace --locked

step "test cluster (tests/cluster/up.sh)"
kubeconfig=$(tests/cluster/up.sh | tail -n 1)
[[ -s $kubeconfig ]] || { echo "up.sh printed no kubeconfig path" >&2; exit 1; }
export PROCTOR_TEST_KUBECONFIG=$kubeconfig

step "operator image (deploy/image/build-oci.sh), helm and kstatus-check (tests/tools/)"
# The image the install tests deploy: built without a Docker engine, imported into the test
# cluster's containerd as proctor.local/proctor:e2e.
cluster_dir=${PROCTOR_CLUSTER_DIR:-/var/lib/proctor-test-cluster}
image_tar=$PROCTOR_CACHE_DIR/images/proctor-e2e.tar
mkdir -p "$(dirname "$image_tar")"
deploy/image/build-oci.sh "$image_tar" proctor.local/proctor:e2e >/dev/null
"$cluster_dir/bin/ctr" --address "$cluster_dir/run/containerd.sock" -n k8s.io \
  images import --base-name proctor.local/proctor "$image_tar" >/dev/null
PROCTOR_TEST_HELM=$(tests/tools/helm.sh)
PROCTOR_TEST_KSTATUS=$(tests/tools/kstatus.sh)
export PROCTOR_TEST_HELM PROCTOR_TEST_KSTATUS
export PROCTOR_TEST_KUBECTL=$cluster_dir/bin/kubectl

step "tests against the real cluster"
# One at a time: each e2e test runs a whole catalog of pods on a 2-core node, and under that
# load containerd (cgroup v1) can handle an OOM-killed container's exit before its OOM event and
# report reason Error instead of OOMKilled -- a real race the oomKill probe reports, not one the
# suite should provoke.
cargo test --workspace --locked -- --ignored --test-threads=1
