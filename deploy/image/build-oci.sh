#!/usr/bin/env bash
# Builds the operator image without a Docker engine: the release binary, the shared libraries it
# links (from this machine, found with ldd) and a passwd entry for the non-root user, packed with
# umoci into an OCI image layout and written as an OCI archive (a tar of that layout).
#
#   deploy/image/build-oci.sh [OUT.tar] [IMAGE]        default: proctor-image.tar, proctor.local/proctor:dev
#
# Import it into a containerd (the local test cluster's, for example) with
#   ctr -n k8s.io images import --base-name proctor.local/proctor OUT.tar
# Users with a Docker engine build deploy/image/Dockerfile instead.
set -euo pipefail

out=${1:-proctor-image.tar}
image=${2:-proctor.local/proctor:dev}
tag=${image##*:}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v umoci >/dev/null || { echo "build-oci: umoci is needed (apt-get install umoci)" >&2; exit 1; }

(cd "$repo_root" && cargo build --quiet --locked --release --bin proctor)
binary=${CARGO_TARGET_DIR:-$repo_root/target}/release/proctor

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/layout"
umoci new --image "$work/layout:$tag"
umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
root=$work/bundle/rootfs
mkdir -p "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
install -m 0755 "$binary" "$root/proctor"
# The dynamic loader and every library the binary links, at the same paths.
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
umoci repack --image "$work/layout:$tag" "$work/bundle"
umoci config --image "$work/layout:$tag" --os linux --architecture amd64 \
  --config.user 65532:65532 --config.workingdir / \
  --config.entrypoint /proctor --config.cmd controller
umoci gc --layout "$work/layout"
tar -C "$work/layout" -cf "$out.tmp" . && mv "$out.tmp" "$out"
echo "$out"
