#!/usr/bin/env bash
# Start a real, Docker-free Kubernetes control plane for tests, entirely on 127.0.0.1:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok (which
#   plays the kubelet for fake Nodes, so Pods scheduled there become Running/Ready).
#
# Usage: tests/infra/k8s/start.sh DIR      # DIR is created; prints DIR/kubeconfig last
#        tests/infra/k8s/stop.sh DIR
# Layout of DIR:  kubeconfig (admin, certs embedded)  env (ports, bin dir)  pki/  logs/
#                 pids/  etcd/  kwok.yaml
# Env:   K8S_BIN_DIR       use these binaries instead of running build.sh
#        K8S_NODES         number of fake nodes (default 2)
#        K8S_OWNER_PID     if set, a watchdog stops the plane once that process is gone
#        K8S_START_TIMEOUT seconds to wait for readiness (default 90)
#        K8S_REAL_NODE=1   prepare for a real node (start-node.sh): the apiserver also listens on the
#                          machine's address and advertises it (lease endpoint reconciler), so pods reach
#                          it through the `kubernetes` Service; kwok nodes get kwok's NoSchedule taint
#        K8S_NODE_IP       that address (default: the first global IPv4 address)
#        (plus everything build.sh reads, e.g. K8S_VERSION)
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
NODES="${K8S_NODES:-2}"
TIMEOUT="${K8S_START_TIMEOUT:-90}"
REAL_NODE="${K8S_REAL_NODE:-0}"
NODE_IP=""
if [[ "$REAL_NODE" == 1 ]]; then
  NODE_IP="${K8S_NODE_IP:-$(ip -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $4; exit}')}"
  [[ -n "$NODE_IP" ]] || { echo "start.sh: K8S_REAL_NODE=1 needs a non-loopback IPv4 address (set K8S_NODE_IP)" >&2; exit 1; }
fi
T_START=$(date +%s.%N)

log() { printf '[start.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ -f "$DIR/pids/kube-apiserver.pid" ]] && kill -0 "$(cat "$DIR/pids/kube-apiserver.pid")" 2>/dev/null; then
  echo "start.sh: a control plane already runs in $DIR (stop it with stop.sh $DIR)" >&2
  exit 1
fi

if [[ -z "${K8S_BIN_DIR:-}" ]]; then
  K8S_BIN_DIR="$("$HERE/build.sh" | tail -1)"
fi
BIN="$K8S_BIN_DIR"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml; do
  [[ -e "$BIN/$b" ]] || { echo "start.sh: $BIN/$b missing (run build.sh)" >&2; exit 1; }
done

PKI="$DIR/pki" LOGS="$DIR/logs" PIDS="$DIR/pids"
rm -rf "$PKI" "$PIDS" "$DIR/etcd" "$DIR/kwok"
mkdir -p "$PKI" "$LOGS" "$PIDS" "$DIR/kwok"

on_error() {
  local rc=$?
  log "FAILED (exit $rc); last log lines:"
  for f in "$LOGS"/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $f" >&2
    tail -n 15 "$f" >&2
  done
  "$HERE/stop.sh" "$DIR" >&2 || true
  exit "$rc"
}
trap on_error ERR

# --- free loopback ports ---------------------------------------------------------------
# Ask the kernel for ephemeral ports (bound together so they are distinct).  A tiny race
# remains between closing and the component binding; good enough for tests.
read -r P_ETCD P_PEER P_API P_KCM P_SCHED P_KWOK < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)

# --- PKI (openssl) ----------------------------------------------------------------------
log "generating certificates in $PKI"
(
  cd "$PKI"
  umask 077
  ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  ec ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=gridwatch-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out ca.crt 2>/dev/null
  sign() { # name subject extfile-content
    ec "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1${NODE_IP:+,IP:$NODE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=kubernetes-admin" "$client_ext"
  sign controller-manager "/CN=system:kube-controller-manager" "$client_ext"
  sign scheduler "/CN=system:kube-scheduler" "$client_ext"
  sign kwok "/O=system:masters/CN=kwok-controller" "$client_ext"
  sign front-proxy-client "/CN=front-proxy-client" "$client_ext"
  # The apiserver's client certificate towards kubelets (logs, exec, port-forward).
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client_ext"
  # Service-account token signing key pair.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
  openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
)

b64() { base64 -w0 <"$1"; }
kubeconfig() { # file user
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: gridwatch-test
  cluster:
    server: https://127.0.0.1:${P_API}
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: gridwatch-test
  context:
    cluster: gridwatch-test
    user: $2
current-context: gridwatch-test
KC
  chmod 600 "$1"
}
kubeconfig "$PKI/controller-manager.kubeconfig" controller-manager
kubeconfig "$PKI/scheduler.kubeconfig" scheduler
kubeconfig "$PKI/kwok.kubeconfig" kwok
kubeconfig "$DIR/kubeconfig.tmp" admin

cat >"$DIR/env" <<ENV
K8S_BIN_DIR=$BIN
K8S_DIR=$DIR
KUBECONFIG=$DIR/kubeconfig
ETCD_URL=http://127.0.0.1:$P_ETCD
APISERVER_URL=https://127.0.0.1:$P_API
KCM_PORT=$P_KCM
SCHEDULER_PORT=$P_SCHED
KWOK_PORT=$P_KWOK
NODE_IP=$NODE_IP
ENV

# --- process helpers --------------------------------------------------------------------
launch() { # name cmd...   (own session, so terminal signals don't hit it; stop.sh does)
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}
wait_for() { # name deadline-seconds cmd...
  local name=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null; then
      log "$name exited"; return 1
    fi
    if ((SECONDS >= end)); then log "timed out waiting for $name"; return 1; fi
    sleep 0.2
  done
}
CURL=(curl -sfk --max-time 2)
CURL_ADMIN=(curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")

# --- etcd -------------------------------------------------------------------------------
ETCD_ARGS=(
  --name=gridwatch --data-dir="$DIR/etcd"
  --listen-client-urls="http://127.0.0.1:$P_ETCD" --advertise-client-urls="http://127.0.0.1:$P_ETCD"
  --listen-peer-urls="http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls="http://127.0.0.1:$P_PEER"
  --initial-cluster="gridwatch=http://127.0.0.1:$P_PEER" --initial-cluster-state=new
  --log-level=warn
)
# Test data is throw-away: skip fsync when this etcd supports it (big speed-up on slow disks).
if "$BIN/etcd" --help 2>&1 | grep -q -- '--unsafe-no-fsync'; then ETCD_ARGS+=(--unsafe-no-fsync); fi
log "starting etcd on 127.0.0.1:$P_ETCD"
launch etcd "$BIN/etcd" "${ETCD_ARGS[@]}"
wait_for etcd 30 "${CURL[@]}" "http://127.0.0.1:$P_ETCD/health"

# --- kube-apiserver ---------------------------------------------------------------------
# Without a real node nothing needs the `kubernetes` Service's endpoints, and the default
# (lease) reconciler refuses a loopback advertise address.  A real node's pods need them.
if [[ "$REAL_NODE" == 1 ]]; then
  API_ADDR=(--bind-address=0.0.0.0 --advertise-address="$NODE_IP" --endpoint-reconciler-type=lease
            --kubelet-preferred-address-types=InternalIP,Hostname)
else
  API_ADDR=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
fi
log "starting kube-apiserver on 127.0.0.1:$P_API${NODE_IP:+ and $NODE_IP:$P_API}"
launch kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$P_ETCD" \
  --secure-port="$P_API" "${API_ADDR[@]}" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota,Priority,TaintNodesByCondition,RuntimeClass,PodSecurity,NodeRestriction \
  --allow-privileged=true \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --profiling=false
wait_for kube-apiserver "$TIMEOUT" "${CURL_ADMIN[@]}" "https://127.0.0.1:$P_API/readyz"
mv "$DIR/kubeconfig.tmp" "$DIR/kubeconfig"
export KUBECONFIG="$DIR/kubeconfig"

# --- kube-controller-manager & kube-scheduler -------------------------------------------
log "starting kube-controller-manager (127.0.0.1:$P_KCM) and kube-scheduler (127.0.0.1:$P_SCHED)"
launch kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_KCM" --cert-dir="$PKI/kcm-serving" \
  --controllers='*' --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --cluster-name=gridwatch-test --leader-elect=false --profiling=false
launch kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$P_SCHED" --cert-dir="$PKI/scheduler-serving" \
  --leader-elect=false --profiling=false

# --- kwok (fake kubelet for annotated Nodes) --------------------------------------------
# KWOK_WORKDIR keeps kwok from reading ~/.kwok/kwok.yaml; the stages (node-initialize,
# node-heartbeat-with-lease, pod-ready/complete/delete = kwok's "fast" set) come from
# build.sh.  Node leases are renewed so the node-lifecycle controller keeps nodes Ready.
log "starting kwok (127.0.0.1:$P_KWOK)"
launch kwok env KWOK_WORKDIR="$DIR/kwok" "$BIN/kwok" \
  --kubeconfig="$PKI/kwok.kubeconfig" \
  --config="$BIN/kwok-stages.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.244.0.0/16 --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$P_KWOK"

wait_for kube-controller-manager "$TIMEOUT" "${CURL[@]}" "https://127.0.0.1:$P_KCM/healthz"
wait_for kube-scheduler "$TIMEOUT" "${CURL[@]}" "https://127.0.0.1:$P_SCHED/healthz"
wait_for kwok "$TIMEOUT" "${CURL[@]}" "http://127.0.0.1:$P_KWOK/healthz"

# --- fake nodes -------------------------------------------------------------------------
# kwok fills in status (Ready, allocatable cpu=1k memory=1Ti pods=1M when unset).
# No NoSchedule taint unless a real node joins (K8S_REAL_NODE=1): then only pods that tolerate it land here.
log "creating $NODES fake node(s)"
for i in $(seq 0 $((NODES - 1))); do
  cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/zone: zone-$((i % 2))
NODE
  if [[ "$REAL_NODE" == 1 ]]; then
    # Keep real pods off fake nodes: scale tests opt in with a toleration and `type: kwok`.
    printf 'spec:\n  taints:\n  - key: kwok.x-k8s.io/node\n    value: fake\n    effect: NoSchedule\n'
  fi
done | "$BIN/kubectl" apply -f - >/dev/null
"$BIN/kubectl" wait --for=condition=Ready node --all --timeout="${TIMEOUT}s" >/dev/null

# The default ServiceAccount is created asynchronously by the controller manager; Pods
# in "default" (and new namespaces) are refused until it exists.
wait_for kube-controller-manager "$TIMEOUT" "$BIN/kubectl" get serviceaccount default -n default

if [[ -n "${K8S_OWNER_PID:-}" ]]; then
  # Watchdog: if the owner (e.g. a pytest process) dies without calling stop, clean up.
  # shellcheck disable=SC2016  # $1..$3 are the inner script's positional parameters
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f "$2/pids/kube-apiserver.pid" ]]; do sleep 1; done
                  [[ -f "$2/pids/kube-apiserver.pid" ]] && exec "$3" "$2"' \
    watchdog "$K8S_OWNER_PID" "$DIR" "$HERE/stop.sh" >"$LOGS/watchdog.log" 2>&1 </dev/null &
  echo $! >"$DIR/watchdog.pid"
fi

trap - ERR
log "ready in $(python3 -c "import time; print(f'{time.time() - $T_START:.1f}')")s: KUBECONFIG=$DIR/kubeconfig"
echo "$DIR/kubeconfig"
