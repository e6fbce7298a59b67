#!/usr/bin/env bash
# End-to-end smoke test of the test control plane:
#   start -> restricted namespace -> Deployment (restricted-compliant) Running/Ready on a
#   kwok node -> a non-compliant Pod is refused by PodSecurity -> helm install --wait -> stop.
# Usage: tests/infra/k8s/smoke.sh [DIR]   (temp dir by default; removed unless KEEP=1)
#        K8S_BIN_DIR=... to use other binaries (e.g. a dir whose etcd is Debian's 3.4)
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
USER_DIR="${1:-}"
DIR="${1:-$(mktemp -d /tmp/gridwatch-k8s-smoke.XXXXXX)}"
log() { printf '[smoke.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

BIN="${K8S_BIN_DIR:-$("$HERE/build.sh" | tail -1)}"
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "FAILED (exit $rc)"
    if [[ -n "${KUBECONFIG:-}" ]]; then "$BIN/kubectl" get nodes,pods -A -o wide >&2 2>&1 || true; fi
  fi
  "$HERE/stop.sh" "$DIR"
  if ((rc == 0)) && [[ -z "${KEEP:-}" && -z "$USER_DIR" ]]; then rm -rf "$DIR"; else log "logs kept in $DIR/logs"; fi
  exit "$rc"
}
trap cleanup EXIT

t0=$(date +%s.%N)
K8S_BIN_DIR="$BIN" "$HERE/start.sh" "$DIR" >/dev/null
t1=$(date +%s.%N)
export KUBECONFIG="$DIR/kubeconfig"
k() { "$BIN/kubectl" "$@"; }
log "control plane up in $(awk "BEGIN{printf \"%.1f\", $t1-$t0}")s"
k version
k get nodes -o wide

log "restricted namespace + Deployment"
k apply -f - <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: smoke
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: smoke
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: web
        image: registry.k8s.io/pause:3.10
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {memory: 32Mi}
        readinessProbe:
          httpGet: {path: /, port: 8080}
YAML
k -n smoke rollout status deployment/web --timeout=60s
k -n smoke wait --for=condition=Ready pod -l app=web --timeout=60s
k -n smoke get pods -o wide
phases="$(k -n smoke get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName} {end}')"
log "pods: $phases"
[[ "$phases" == *Running/kwok-node-* ]] || { log "pods not Running on a kwok node"; exit 1; }
t2=$(date +%s.%N)
log "Deployment Ready $(awk "BEGIN{printf \"%.1f\", $t2-$t1}")s after the plane was up"

log "PodSecurity must refuse a privileged pod in the restricted namespace"
if out="$(k -n smoke run bad --image=registry.k8s.io/pause:3.10 --restart=Never \
            --overrides='{"spec":{"containers":[{"name":"bad","image":"registry.k8s.io/pause:3.10","securityContext":{"privileged":true}}]}}' 2>&1)"; then
  log "privileged pod was admitted: $out"; exit 1
fi
grep -q 'violates PodSecurity "restricted' <<<"$out" || { log "unexpected error: $out"; exit 1; }
log "refused: $(head -c 160 <<<"$out")..."

log "helm install --wait of a generated chart"
export HELM_CACHE_HOME="$DIR/helm/cache" HELM_CONFIG_HOME="$DIR/helm/config" HELM_DATA_HOME="$DIR/helm/data"
(cd "$DIR" && "$BIN/helm" create demo >/dev/null)
"$BIN/helm" install demo "$DIR/demo" -n helm-smoke --create-namespace --wait --timeout 90s \
  --set image.repository=registry.k8s.io/pause --set image.tag=3.10 \
  --set livenessProbe=null --set readinessProbe=null
"$BIN/helm" list -n helm-smoke
k -n helm-smoke get pods -o wide

t3=$(date +%s.%N)
log "smoke OK (total $(awk "BEGIN{printf \"%.1f\", $t3-$t0}")s before stop)"
