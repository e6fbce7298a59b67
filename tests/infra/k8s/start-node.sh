#!/usr/bin/env bash
# Join a real node to a control plane started by `K8S_REAL_NODE=1 start.sh DIR`:
#   containerd (+ runc, bridge/host-local CNI), kubelet and kube-proxy on this machine, and
#   CoreDNS as a pod behind the kube-dns Service (10.0.0.10), so pods reach Services by name.
# containerd, kubelet and kube-proxy run in a private mount namespace (tmpfs over /run, /var/lib,
# /var/log; files over three /proc/sys entries the kubelet insists on), so their mounts vanish
# with it.  stop-node.sh DIR (also called by stop.sh) removes every pod, restores the host's
# iptables and sysctls, deletes the bridge and the cgroups, and checks nothing is left.
#
# Usage: tests/infra/k8s/start-node.sh DIR      # DIR as given to start.sh; state in DIR/node
# Env:   K8S_NODE_NAME (gridwatch-node), K8S_POD_CIDR (10.245.0.0/24), K8S_NODE_BIN_DIR,
#        K8S_START_TIMEOUT (90)
# Needs: root with CAP_SYS_ADMIN and CAP_NET_ADMIN; cgroups (v1 or v2); overlayfs; br_netfilter;
#        Debian's runc, containernetworking-plugins, iptables, conntrack (docs/control-plane.md).
set -Eeuo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # runc, iptables, conntrack, sysctl

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR="$(cd "$1" && pwd)"
ND="$DIR/node"
TIMEOUT="${K8S_START_TIMEOUT:-90}"
NAME="${K8S_NODE_NAME:-gridwatch-node}"
POD_CIDR="${K8S_POD_CIDR:-10.245.0.0/24}"
BRIDGE=gwbr0
CGROUP_ROOT=/gridwatch-node
DNS_IP=10.0.0.10
T_START=$(date +%s.%N)

log() { printf '[start-node.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[[ -f "$DIR/env" ]] || { echo "start-node.sh: no control plane in $DIR (run start.sh first)" >&2; exit 1; }
# shellcheck disable=SC1091
source "$DIR/env"
[[ -n "${NODE_IP:-}" ]] || { echo "start-node.sh: start the plane with K8S_REAL_NODE=1" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "start-node.sh: a real node needs root" >&2; exit 1; }
if ip link show "$BRIDGE" >/dev/null 2>&1 || [[ -d "/sys/fs/cgroup/memory$CGROUP_ROOT" || -d "/sys/fs/cgroup$CGROUP_ROOT/kubepods" ]]; then
  echo "start-node.sh: another real node runs on this machine ($BRIDGE or cgroup $CGROUP_ROOT exists)" >&2
  exit 1
fi
BIN="${K8S_NODE_BIN_DIR:-$("$HERE/build-node.sh" | tail -1)}"
for b in kubelet kube-proxy kubectl containerd containerd-shim-runc-v2 ctr crictl pause.oci.tar coredns.oci.tar busybox.oci.tar; do
  [[ -e "$BIN/$b" ]] || { echo "start-node.sh: $BIN/$b missing (run build-node.sh)" >&2; exit 1; }
done
KUBECTL=("$BIN/kubectl" --kubeconfig "$DIR/kubeconfig")

rm -rf "$ND"
mkdir -p "$ND"/{pki,pids,logs,host,sysctl,cni,cni-ipam,kubelet,pod-logs,volume-plugins,containerd/opt}
LOGS="$ND/logs" PIDS="$ND/pids"
echo "$BIN" >"$ND/bin"

on_error() {
  local rc=$?
  log "FAILED (exit $rc); last log lines:"
  for f in "$LOGS"/*.log; do [[ -f "$f" ]] && { echo "----- $f" >&2; tail -n 20 "$f" >&2; }; done
  "$HERE/stop-node.sh" "$DIR" >&2 || true
  exit "$rc"
}
trap on_error ERR

read -r P_KUBELET P_KUBELET_HZ P_PROXY_HZ P_PROXY_METRICS < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

# --- what is restored on stop: iptables, sysctls, the veths that were there before -------------
iptables-save >"$ND/host/iptables.v4"
ip6tables-save >"$ND/host/iptables.v6" 2>/dev/null || true
for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables \
         net.ipv4.conf.all.route_localnet; do
  v="$(sysctl -n "$k" 2>/dev/null)" && echo "$k=$v"
done >"$ND/host/sysctl"
ip -o link show type veth | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$ND/host/veths"
cat >"$ND/env" <<ENV
NODE_NAME=$NAME
NODE_BIN_DIR=$BIN
BRIDGE=$BRIDGE
CGROUP_ROOT=$CGROUP_ROOT
POD_CIDR=$POD_CIDR
DNS_IP=$DNS_IP
KUBELET_PORT=$P_KUBELET
CONTAINERD_ADDRESS=$ND/containerd.sock
ENV

# --- certificates: signed by the plane's CA (no TLS bootstrap) ------------------------------
(
  cd "$ND/pki"
  umask 077
  sign() { # name subject ext
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial \
      -CAserial "$ND/pki/ca.srl" -days 365 -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NAME" "$client"
  sign kube-proxy "/CN=system:kube-proxy" "$client"
  sign kubelet-serving "/O=system:nodes/CN=system:node:$NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NAME"
)
kubeconfig() { # file cert
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: gridwatch-test
  cluster: {server: "$APISERVER_URL", certificate-authority: "$DIR/pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$ND/pki/$2.crt", client-key: "$ND/pki/$2.key"}
contexts:
- name: gridwatch-test
  context: {cluster: gridwatch-test, user: $2}
current-context: gridwatch-test
KC
}
kubeconfig "$ND/kubelet.kubeconfig" kubelet-client
kubeconfig "$ND/kube-proxy.kubeconfig" kube-proxy

# --- configuration ------------------------------------------------------------------------
GATEWAY="$(python3 -c "import ipaddress,sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))" "$POD_CIDR")"
cat >"$ND/cni/10-gridwatch.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "gridwatch",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$ND/cni-ipam",
              "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI

cat >"$ND/containerd.toml" <<TOML
version = 3
root = "$ND/containerd/root"
state = "$ND/containerd/state"
disabled_plugins = ["io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$ND/containerd.sock"

[plugins.'io.containerd.internal.v1.opt']
  path = "$ND/containerd/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "registry.k8s.io/pause:gridwatch"

[plugins.'io.containerd.cri.v1.runtime']
  # No CAP_SYS_RESOURCE here: sandboxes asking for oom_score_adj -998 would fail in runc.
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$ND/cni"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
TOML

CGROUP_V1=true
[[ -f /sys/fs/cgroup/cgroup.controllers ]] && CGROUP_V1=false
cat >"$ND/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: $P_KUBELET
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $P_KUBELET_HZ
tlsCertFile: $ND/pki/kubelet-serving.crt
tlsPrivateKeyFile: $ND/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$ND/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
# The three kernel settings it checks are files in the node's mount namespace (start-node.sh).
protectKernelDefaults: true
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: ""
podLogsDir: $ND/pod-logs
volumePluginDir: $ND/volume-plugins
maxPods: 110
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
shutdownGracePeriod: 0s
rotateCertificates: false
serverTLSBootstrap: false
YAML

cat >"$ND/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $ND/kube-proxy.kubeconfig}
hostnameOverride: $NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$P_PROXY_HZ
metricsBindAddress: 127.0.0.1:$P_PROXY_METRICS
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML

# --- host settings the node needs (restored on stop) ---------------------------------------
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || modprobe br_netfilter 2>/dev/null \
  || { echo "start-node.sh: br_netfilter is needed (net.bridge.bridge-nf-call-iptables)" >&2; false; }
sysctl -qw net.bridge.bridge-nf-call-iptables=1
# Pods talk to each other, to Services and to this machine, never beyond it.
iptables -N GRIDWATCH-NODE 2>/dev/null || true
iptables -A GRIDWATCH-NODE -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
iptables -A GRIDWATCH-NODE -i "$BRIDGE" -j DROP
iptables -I FORWARD 1 -j GRIDWATCH-NODE

# --- cgroups: the kubelet's root, in every hierarchy ----------------------------------------
if [[ "$CGROUP_V1" == true ]]; then
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/cgroup.procs" ]] || continue
    mkdir -p "$h${CGROUP_ROOT#/}"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$h${CGROUP_ROOT#/}/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h${CGROUP_ROOT#/}/cpuset.mems"
    fi
  done
else
  mkdir -p "/sys/fs/cgroup$CGROUP_ROOT"
fi

# --- the mount namespace ------------------------------------------------------------------
printf '1\n' >"$ND/sysctl/vm.overcommit_memory"
printf '10\n' >"$ND/sysctl/kernel.panic"
printf '1\n' >"$ND/sysctl/kernel.panic_on_oops"
# shellcheck disable=SC2016  # expanded by the inner shell
setsid unshare --mount --propagation private bash -c '
  set -e
  ND=$1
  mount -t tmpfs -o mode=0755 gridwatch-run /run
  mkdir -p /run/lock
  mount -t tmpfs -o mode=0755 gridwatch-varlib /var/lib
  mount -t tmpfs -o mode=0755 gridwatch-varlog /var/log
  for k in vm/overcommit_memory kernel/panic kernel/panic_on_oops; do
    mount --bind "$ND/sysctl/${k/\//.}" "/proc/sys/$k"
  done
  mount --bind "$ND" "$ND"
  mount --make-rshared "$ND"
  touch "$ND/ns.ready"
  exec sleep infinity' node-ns "$ND" >"$LOGS/ns.log" 2>&1 </dev/null &
echo $! >"$PIDS/ns.pid"
for _ in $(seq 50); do [[ -f "$ND/ns.ready" ]] && break; sleep 0.1; done
[[ -f "$ND/ns.ready" ]] || { log "mount namespace did not come up"; false; }
NS="/proc/$(cat "$PIDS/ns.pid")/ns/mnt"

launch() { # name cmd...
  local name=$1; shift
  setsid nsenter --mount="$NS" -- "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}
wait_for() { # name seconds cmd...
  local name=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null || { log "$name exited"; return 1; }
    ((SECONDS < end)) || { log "timed out waiting for $name"; return 1; }
    sleep 0.2
  done
}
CTR=("$BIN/ctr" --address "$ND/containerd.sock" --namespace k8s.io)

# --- containerd, images, kubelet, kube-proxy -------------------------------------------------
log "starting containerd"
launch containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$ND/containerd.toml"
wait_for containerd 30 "${CTR[@]}" version
"${CTR[@]}" images import "$BIN/pause.oci.tar" >/dev/null
"${CTR[@]}" images import "$BIN/coredns.oci.tar" >/dev/null
"${CTR[@]}" images import "$BIN/busybox.oci.tar" >/dev/null

log "starting kubelet ($NAME, $NODE_IP:$P_KUBELET) and kube-proxy"
launch kubelet env PATH="$BIN:$PATH" "$BIN/kubelet" --config="$ND/kubelet.yaml" \
  --kubeconfig="$ND/kubelet.kubeconfig" --root-dir="$ND/kubelet" \
  --hostname-override="$NAME" --node-ip="$NODE_IP" \
  --node-labels="type=real,gridwatch.io/node=real" --v=1
launch kube-proxy "$BIN/kube-proxy" --config="$ND/kube-proxy.yaml" --v=1
wait_for kubelet "$TIMEOUT" "${KUBECTL[@]}" get node "$NAME"
wait_for kubelet "$TIMEOUT" "${KUBECTL[@]}" wait --for=condition=Ready "node/$NAME" --timeout=2s
wait_for kube-proxy "$TIMEOUT" curl -sf --max-time 2 "http://127.0.0.1:$P_PROXY_HZ/healthz"

# --- cluster DNS -----------------------------------------------------------------------------
log "starting CoreDNS (kube-dns Service $DNS_IP)"
sed -e "s/@DNS_IP@/$DNS_IP/g" -e "s/@NODE@/$NAME/g" "$HERE/coredns.yaml" | "${KUBECTL[@]}" apply -f - >/dev/null
wait_for kubelet "$TIMEOUT" "${KUBECTL[@]}" -n kube-system rollout status deployment/coredns --timeout=2s

trap - ERR
log "node $NAME ready in $(python3 -c "import time; print(f'{time.time() - $T_START:.1f}')")s"
echo "$ND/env"
