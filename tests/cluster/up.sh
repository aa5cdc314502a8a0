#!/usr/bin/env bash
# Brings up Proctor's single-node test cluster on this machine, from nothing:
#   Debian packages (runc, CNI plugins, etcd, busybox-static, umoci, ...),
#   Kubernetes components and containerd built from pinned upstream Go modules
#   (tests/cluster/k8s, tests/cluster/containerd),
#   locally built probe and pause images imported into containerd (nothing is ever pulled),
#   certificates and kubeconfigs made with openssl, and one RuntimeClass per runtime handler:
#   `runc` plus a `faulty-<fault>` class for every fault of tests/cluster/faulty-runc.
#
# Idempotent: on a healthy cluster it changes nothing. A cluster whose processes died (or were
# killed, as happens before every CI run) is torn down by down.sh's routine and started afresh.
# Builds are cached under $PROCTOR_CACHE_DIR (default /var/cache/proctor), state lives under
# $PROCTOR_CLUSTER_DIR (default /var/lib/proctor-test-cluster).
#
# The last line of output is the admin kubeconfig's path; everything else goes to stderr.
#
# Networking stays on this machine: pods sit on the bridge proctor0 (10.123.0.0/24) in network
# namespaces the runtime made; forwarding between that bridge and any other interface is
# dropped; service IPs are routed to the bridge; containerd's registry traffic goes to a proxy
# address on loopback where nothing listens, so an image pull fails at once instead of leaving.

# shellcheck source=tests/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/cluster/teardown.sh
source "$CLUSTER_SRC/teardown.sh"

[[ $(id -u) == 0 ]] || die "up.sh needs root (it runs containerd, the kubelet and iptables)"

# Everything a running cluster was made from: when any of it changes, up.sh starts afresh.
fingerprint() {
  # Relative paths: two clones of the same commit describe the same cluster.
  (cd "$CLUSTER_SRC" && find . -type f \( -name '*.sh' -o -name '*.c' -o -name '*.rs' -o -name 'go.*' \
    -o -name '*.go' -o -name Cargo.toml \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do
    pid_of "$c" >/dev/null || return 1
  done
  [[ $(cat "$CLUSTER_DIR/ready" 2>/dev/null) == "$(fingerprint)" ]] || return 1
  kubectl_admin get --raw /readyz >/dev/null 2>&1 || return 1
  [[ $(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

# ---------------------------------------------------------------------------------------------
# Packages and builds (cached; nothing here depends on cluster state)

DEBIAN_PACKAGES=(runc containernetworking-plugins etcd-server busybox-static umoci
  iptables conntrack openssl iproute2 curl gcc libc6-dev)

install_packages() {
  local missing=() p
  for p in "${DEBIAN_PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The containerd and etcd packages would start their services through an init system; there
  # is none here, and up.sh runs both itself with its own configuration and ports.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The multi-call Kubernetes binary, keyed by the version and the wrapper module's content.
build_kubernetes() {
  local key out ld p
  key=$(cat "$CLUSTER_SRC/k8s/go.mod" "$CLUSTER_SRC/k8s/go.sum" "$CLUSTER_SRC/k8s/main.go" | sha256sum | cut -c1-12)
  out=$CACHE_DIR/k8s/$K8S_VERSION-$key/k8s
  if [[ ! -x $out ]]; then
    log "building Kubernetes $K8S_VERSION components (cold builds take a while; cached in $CACHE_DIR)"
    local major minor
    major=$(cut -d. -f1 <<<"${K8S_VERSION#v}")
    minor=$(cut -d. -f2 <<<"${K8S_VERSION#v}")
    ld="-s -w"
    for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
      ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$(dirname "$out")"
    (cd "$CLUSTER_SRC/k8s" && go build -trimpath -ldflags "$ld" -o "$out.tmp" .)
    mv "$out.tmp" "$out"
  fi
  K8S_BINARY=$out
}

# containerd, its runc shim and ctr, built from the pinned module (tests/cluster/containerd).
build_containerd() {
  local key dir version c
  version=$(awk '$1 == "github.com/containerd/containerd" && $2 ~ /^v/ { print $2; exit }' "$CLUSTER_SRC/containerd/go.mod")
  [[ -n $version ]] || die "no containerd version in $CLUSTER_SRC/containerd/go.mod"
  key=$(cat "$CLUSTER_SRC/containerd/go.mod" "$CLUSTER_SRC/containerd/go.sum" | sha256sum | cut -c1-12)
  dir=$CACHE_DIR/containerd/$version-$key
  if [[ ! -x $dir/ctr ]]; then
    log "building containerd $version (cached in $CACHE_DIR)"
    mkdir -p "$dir.tmp"
    for c in containerd containerd-shim-runc-v2 ctr; do
      (cd "$CLUSTER_SRC/containerd" && go build -trimpath -tags "no_btrfs urfave_cli_no_docs" \
        -ldflags "-s -w -X github.com/containerd/containerd/version.Version=$version" \
        -o "$dir.tmp/$c" "github.com/containerd/containerd/cmd/$c")
    done
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  CONTAINERD_DIR=$dir
}

build_faulty_runc() {
  log "building faulty-runc"
  (cd "$REPO_ROOT" && cargo build --quiet --locked -p faulty-runc)
  FAULTY_RUNC_BINARY=$CARGO_TARGET_DIR/debug/faulty-runc
  [[ -x $FAULTY_RUNC_BINARY ]] || die "faulty-runc was not built at $FAULTY_RUNC_BINARY"
}

# OCI image layouts built with umoci from busybox-static and the static pause binary; imported
# into containerd later. Keyed by their inputs.
build_images() {
  local key dir
  key=$( (cat "$CLUSTER_SRC/pause/pause.c" "$CLUSTER_SRC/up.sh"; sha256sum /bin/busybox) | sha256sum | cut -c1-12)
  IMAGES_DIR=$CACHE_DIR/images/$key
  [[ -s $IMAGES_DIR/probe.tar && -s $IMAGES_DIR/pause.tar ]] && return 0
  log "building the probe and pause images"
  dir=$(mktemp -d)
  mkdir -p "$dir/pause-bin"
  gcc -static -Os -s -Wall -Wextra -o "$dir/pause-bin/pause" "$CLUSTER_SRC/pause/pause.c"

  build_image "$dir" probe "${PROBE_IMAGE##*:}" probe_rootfs '--config.cmd=/bin/sh'
  build_image "$dir" pause "${PAUSE_IMAGE##*:}" pause_rootfs '--config.entrypoint=/pause'
  mkdir -p "$IMAGES_DIR"
  tar -C "$dir/probe" -cf "$IMAGES_DIR/probe.tar.tmp" . && mv "$IMAGES_DIR/probe.tar.tmp" "$IMAGES_DIR/probe.tar"
  tar -C "$dir/pause" -cf "$IMAGES_DIR/pause.tar.tmp" . && mv "$IMAGES_DIR/pause.tar.tmp" "$IMAGES_DIR/pause.tar"
  rm -rf "$dir"
}

# build_image WORKDIR NAME TAG ROOTFS_FUNCTION CONFIG_FLAG
build_image() {
  local dir=$1 name=$2 tag=$3 fill=$4 config=$5
  umoci init --layout "$dir/$name"
  umoci new --image "$dir/$name:$tag"
  umoci unpack --image "$dir/$name:$tag" "$dir/$name-bundle" >/dev/null
  "$fill" "$dir" "$dir/$name-bundle/rootfs"
  umoci repack --image "$dir/$name:$tag" "$dir/$name-bundle"
  umoci config --image "$dir/$name:$tag" --os linux --architecture amd64 \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.workingdir / "$config"
  umoci gc --layout "$dir/$name"
}

# The probe image: busybox with every applet linked, and the passwd/group entries the
# restricted Pod Security Standard's non-root users need.
probe_rootfs() {
  local root=$2 applet
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nprobe:x:1000:1000:probe:/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nprobe:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
}

pause_rootfs() {
  cp "$1/pause-bin/pause" "$2/pause"
}

# ---------------------------------------------------------------------------------------------
# State: certificates, kubeconfigs, configuration files

# cert NAME CN O EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
cert() {
  local name=$1 cn=$2 org=$3 usage=$4 sans=${5:-} subj
  subj="/CN=$cn"
  [[ -n $org ]] && subj+="/O=$org"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# kubeconfig FILE CERT_NAME SERVER
kubeconfig() {
  local file=$1 name=$2 server=$3
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: proctor-test
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$name.crt")
    client-key-data: $(base64 -w0 <"$PKI/$name.key")
contexts:
- name: proctor-test
  context:
    cluster: proctor-test
    user: $name
current-context: proctor-test
EOF
}

make_pki() {
  [[ -s $PKI/done ]] && return 0
  log "making certificates"
  rm -rf "$PKI" && mkdir -p "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
    -subj "/CN=proctor-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  local api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  api_sans+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP"
  cert apiserver kube-apiserver "" serverAuth "$api_sans"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert admin proctor-test-admin system:masters clientAuth
  cert controller-manager system:kube-controller-manager "" clientAuth
  cert scheduler system:kube-scheduler "" clientAuth
  cert kube-proxy system:kube-proxy "" clientAuth
  cert kubelet "system:node:$NODE_NAME" system:nodes clientAuth
  cert kubelet-serving "$NODE_NAME" "" serverAuth "DNS:$NODE_NAME,IP:$NODE_IP"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  local local_api=https://127.0.0.1:$API_PORT
  kubeconfig "$CLUSTER_DIR/admin.kubeconfig.tmp" admin "$local_api"
  kubeconfig "$CONF/controller-manager.kubeconfig" controller-manager "$local_api"
  kubeconfig "$CONF/scheduler.kubeconfig" scheduler "$local_api"
  kubeconfig "$CONF/kube-proxy.kubeconfig" kube-proxy "$local_api"
  kubeconfig "$CONF/kubelet.kubeconfig" kubelet "$local_api"
  mv "$CLUSTER_DIR/admin.kubeconfig.tmp" "$KUBECONFIG_ADMIN"
  echo ok >"$PKI/done"
}

write_configs() {
  local fault
  mkdir -p "$CONF" "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/cni/ipam"
  ln -sfn "$K8S_BINARY" "$BIN/k8s"
  # First on PATH: containerd finds its shim there, and ctr must speak to the same version.
  for c in containerd containerd-shim-runc-v2 ctr; do
    ln -sfn "$CONTAINERD_DIR/$c" "$BIN/$c"
  done
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl; do
    ln -sfn k8s "$BIN/$c"
  done
  install -m 0755 "$FAULTY_RUNC_BINARY" "$BIN/faulty-runc"
  FAULTS=()
  while IFS=$'\t' read -r fault _; do
    FAULTS+=("$fault")
    ln -sfn faulty-runc "$BIN/faulty-runc-$fault"
  done < <("$BIN/faulty-runc" --list-faults)

  {
    cat <<EOF
version = 2
root = "$CLUSTER_DIR/containerd"
state = "$RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM withholds CAP_SYS_RESOURCE even from root, so no process may lower its OOM score
  # adjustment (the pause container's -998 made runc init fail). Keep scores >= containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
EOF
    runtime_handler runc "$(command -v runc)"
    for fault in "${FAULTS[@]}"; do
      runtime_handler "faulty-$fault" "$BIN/faulty-runc-$fault"
    done
  } >"$CONF/containerd.toml"

  cat >"$CLUSTER_DIR/cni/net.d/10-proctor.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "proctor",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CLUSTER_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

  cat >"$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
podLogsDir: $CLUSTER_DIR/pod-logs
failSwapOn: false
# No DNS server runs in this cluster; an empty resolv.conf keeps pods from using the host's.
resolvConf: ""
clusterDomain: cluster.local
# The locally imported images can never be pulled again: never garbage-collect them, never evict.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
serializeImagePulls: false
maxPods: 250
# One log line of 100 MB is served whole (tests/memory.rs); at the default 10Mi the kubelet
# rotates it away while it is written.
containerLogMaxSize: 256Mi
EOF

  cat >"$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $CONF/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
EOF
}

# runtime_handler NAME RUNC_BINARY: one containerd runtime handler = one RuntimeClass.
runtime_handler() {
  cat <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."$1"]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."$1".options]
        BinaryName = "$2"
        Root = "$RUN/runc"
        SystemdCgroup = false
EOF
}

# ---------------------------------------------------------------------------------------------
# Host networking and cgroups

setup_host() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service IPs only exist in kube-proxy's NAT rules: route them to the bridge, never outwards.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
  # Pods may talk to each other and to this host; nothing is forwarded between the bridge and
  # any other interface.
  iptables -N PROCTOR-ISOLATE 2>/dev/null || iptables -F PROCTOR-ISOLATE
  iptables -A PROCTOR-ISOLATE -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -A PROCTOR-ISOLATE -i "$BRIDGE" -j DROP
  iptables -A PROCTOR-ISOLATE -o "$BRIDGE" -j DROP
  iptables -C FORWARD -j PROCTOR-ISOLATE 2>/dev/null || iptables -I FORWARD 1 -j PROCTOR-ISOLATE
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Bidirectional and HostToContainer mount propagation (the privileged kind) need the host's
  # mounts shared, as systemd makes them on the hosts it boots.
  mount --make-rshared /
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f $h/cgroup.procs && $h != */unified/ ]] && mkdir -p "$h/$CGROUP_ROOT"
  done
  return 0
}

# ---------------------------------------------------------------------------------------------
# Processes

# start NAME COMMAND...: runs COMMAND in its own session, logging to logs/NAME.log, and records
# its PID (the process writes its own PID before exec'ing, so no fork can misattribute it).
start() {
  local name=$1
  shift
  log "starting $name"
  rm -f "$PIDS/$name.pid"
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" \
    </dev/null >>"$LOGS/$name.log" 2>&1 &
  wait_for 10 "$name pid file" test -s "$PIDS/$name.pid" || die "$name did not start"
}

# expect_up NAME SECONDS CHECK...: waits for CHECK while the component is still running.
expect_up() {
  local name=$1 seconds=$2 i
  shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    # Only liveness here: until it exec's, the recorded process is still the launching shell.
    if ! kill -0 "$(<"$PIDS/$name.pid")" 2>/dev/null; then
      tail -n 30 "$LOGS/$name.log" >&2 || true
      die "$name exited during start-up (log: $LOGS/$name.log)"
    fi
    sleep 0.25
  done
  tail -n 30 "$LOGS/$name.log" >&2 || true
  die "$name did not become ready within ${seconds}s (log: $LOGS/$name.log)"
}

api_get() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT$1"
}

start_cluster() {
  start etcd etcd --name proctor --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "proctor=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --log-level warn
  expect_up etcd 30 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

  # Registry requests go to a proxy on loopback where nothing listens: a pull fails at once and
  # never leaves this machine. The faulty runtimes log what they break.
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    FAULTY_RUNC_LOG="$LOGS/faulty-runc.log" FAULTY_RUNC_BUSYBOX=/bin/busybox \
    FAULTY_RUNC_ESCAPE_CGROUP="$CGROUP_ROOT/escaped" \
    containerd --config "$CONF/containerd.toml"
  # env exec's containerd, so the recorded PID is containerd's own.
  expect_up containerd 30 ctr --address "$CONTAINERD_SOCK" version
  import_images

  start kube-apiserver "$BIN/kube-apiserver" \
    --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port="$API_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --client-ca-file="$PKI/ca.crt" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --profiling=false
  expect_up kube-apiserver 120 api_get /readyz

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$CONF/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$CONF/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$CONF/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size="${POD_CIDR#*/}" \
    --profiling=false
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$CONF/scheduler.kubeconfig" \
    --authentication-kubeconfig="$CONF/scheduler.kubeconfig" \
    --authorization-kubeconfig="$CONF/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  start kubelet "$BIN/kubelet" --config="$CONF/kubelet.yaml" \
    --kubeconfig="$CONF/kubelet.kubeconfig" --root-dir="$CLUSTER_DIR/kubelet" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
  start kube-proxy "$BIN/kube-proxy" --config="$CONF/kube-proxy.yaml"

  expect_up kubelet 120 node_ready
  expect_up kube-controller-manager 120 kubectl_admin get serviceaccount default -n default
  expect_up kube-proxy 60 curl -sf http://127.0.0.1:10256/healthz
  apply_runtime_classes
  apply_proctor_defaults
  fingerprint >"$CLUSTER_DIR/ready"
}

node_ready() {
  [[ $(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

import_images() {
  local image tar listed
  for image in "$PROBE_IMAGE" "$PAUSE_IMAGE"; do
    case $image in
      "$PROBE_IMAGE") tar=$IMAGES_DIR/probe.tar ;;
      *) tar=$IMAGES_DIR/pause.tar ;;
    esac
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --base-name "${image%:*}" "$tar" >/dev/null
    # Listed into a variable first: under pipefail, `ctr ... | grep -q` fails whenever grep
    # exits at its match before ctr has written its last line (ctr dies of SIGPIPE).
    listed=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q)
    grep -qx "$image" <<<"$listed" || die "image $image was not imported from $tar"
  done
}

apply_runtime_classes() {
  local fault
  {
    printf 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: runc\nhandler: runc\n'
    for fault in "${FAULTS[@]}"; do
      printf -- '---\napiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: faulty-%s\n  labels:\n    proctor.dev/fault: "%s"\nhandler: faulty-%s\n' \
        "$fault" "$fault" "$fault"
    done
  } | kubectl_admin apply -f - >/dev/null
}

# The cluster tells Proctor its probe image: this cluster pulls nothing, and only the locally
# built one exists. Both `proctor controller` and `proctor run` read kube-public/proctor-defaults
# when no --default-image is given; every authenticated user may read that one ConfigMap.
apply_proctor_defaults() {
  kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: proctor-defaults
  namespace: kube-public
data:
  probeImage: $PROBE_IMAGE
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: proctor-defaults-reader
  namespace: kube-public
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [proctor-defaults]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: proctor-defaults-reader
  namespace: kube-public
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: proctor-defaults-reader
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: system:authenticated
EOF
}

# ---------------------------------------------------------------------------------------------

main() {
  if [[ -x $BIN/kubectl ]] && healthy; then
    log "cluster already up and healthy"
    echo "$KUBECONFIG_ADMIN"
    return 0
  fi
  local started=$SECONDS
  install_packages
  build_kubernetes
  build_containerd
  build_faulty_runc
  build_images
  if [[ -d $CLUSTER_DIR ]]; then
    log "clearing the state of a previous cluster"
    teardown
  fi
  mkdir -p "$CLUSTER_DIR" "$BIN" "$PKI" "$CONF" "$LOGS" "$PIDS" "$RUN"
  make_pki
  write_configs
  setup_host
  start_cluster
  log "cluster up in $((SECONDS - started))s: kubectl --kubeconfig $KUBECONFIG_ADMIN get nodes"
  echo "$KUBECONFIG_ADMIN"
}

main "$@"
