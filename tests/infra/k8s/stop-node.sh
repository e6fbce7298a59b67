#!/usr/bin/env bash
# Stop the real node started by start-node.sh DIR and undo what it did to this machine: every pod
# sandbox removed through the runtime (CNI DEL removes the veths), kubelet, kube-proxy and
# containerd stopped, leftover shims killed, the mount namespace ended (its mounts go with it),
# the kubelet's cgroups removed, iptables and sysctls restored, the bridge deleted.  Then it checks
# that no process, mount, cgroup, veth, bridge or iptables chain of the node is left, lists any in
# DIR/node/leftovers and exits 1.  Idempotent.
set -uo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # runc, iptables, conntrack, sysctl
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d "$1/node" ]] || exit 0
DIR="$(cd "$1" && pwd)"
ND="$DIR/node"
GRACE="${K8S_STOP_GRACE:-10}"
BRIDGE=gwbr0 CGROUP_ROOT=/gridwatch-node
# shellcheck disable=SC1091
[[ -f "$ND/env" ]] && source "$ND/env"
BIN="$(cat "$ND/bin" 2>/dev/null || true)"

log() { printf '[stop-node.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

ours() { # pid -> alive and its command line mentions ND
  local cmd
  [[ -r "/proc/$1/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$1/cmdline") "
  [[ "$cmd" == *"$ND/"* || "$cmd" == *" $ND "* ]]
}
stop_pid() { # pid grace-seconds
  local pid=$1
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 $(($2 * 10))); do ours "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  for _ in $(seq 1 20); do ours "$pid" || return 0; sleep 0.1; done
}
stop_named() { # name
  local f="$ND/pids/$1.pid"
  [[ -f "$f" ]] || return 0
  stop_pid "$(cat "$f")" "$GRACE"
  rm -f "$f"
}
our_pids() { # every live process whose command line mentions ND
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$$" ]] && continue
    ours "$p" && echo "$p"
  done
}

# 1. The kubelet first, or it recreates what we remove.
stop_named kubelet
# 2. Pods through the runtime: containers are killed and CNI DEL runs for each sandbox.
if [[ -n "$BIN" && -S "$ND/containerd.sock" ]] && [[ -f "$ND/pids/containerd.pid" ]] && ours "$(cat "$ND/pids/containerd.pid")"; then
  CRICTL=("$BIN/crictl" --runtime-endpoint "unix://$ND/containerd.sock" --timeout 30s)
  timeout 60 "${CRICTL[@]}" rmp -fa >/dev/null 2>&1 || log "crictl rmp -fa failed"
  timeout 30 "${CRICTL[@]}" rm -fa >/dev/null 2>&1 || true
fi
stop_named kube-proxy
stop_named containerd
# 3. Shims (their command line names ND/containerd.sock) and anything else of ours.
for p in $(our_pids); do [[ "$p" != "$(cat "$ND/pids/ns.pid" 2>/dev/null)" ]] && stop_pid "$p" 2; done
# 4. The mount namespace: its last process, so its mounts go away.
stop_named ns

# 5. cgroups: kill what is still inside (pod processes), then remove deepest first.
cg_dirs() {
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -d "$h${CGROUP_ROOT#/}" ]] && echo "$h${CGROUP_ROOT#/}"
  done
}
for d in $(cg_dirs); do
  find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -KILL 2>/dev/null
done
sleep 0.2
for d in $(cg_dirs); do
  for _ in 1 2 3 4 5; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$d" ]] || break
    sleep 0.5
  done
done

# 6. iptables: back to the snapshot (tables that did not exist before are emptied).
restore_tables() { # save-cmd restore-cmd snapshot
  local t
  [[ -f "$3" ]] || return 0
  "$2" <"$3" 2>/dev/null || log "$2 failed"
  for t in filter nat mangle raw security; do
    grep -q "^\*$t\$" "$3" && continue
    "${1%-save}" -t "$t" -F 2>/dev/null && "${1%-save}" -t "$t" -X 2>/dev/null
  done
}
restore_tables iptables-save iptables-restore "$ND/host/iptables.v4"
restore_tables ip6tables-save ip6tables-restore "$ND/host/iptables.v6"
# 7. sysctls, the bridge.
if [[ -f "$ND/host/sysctl" ]]; then
  while IFS== read -r k v; do sysctl -qw "$k=$v" 2>/dev/null; done <"$ND/host/sysctl"
fi
ip link del "$BRIDGE" 2>/dev/null

# 8. Check: nothing of the node is left on this machine.
left=()
for p in $(our_pids); do left+=("process $p: $(tr '\0' ' ' <"/proc/$p/cmdline")"); done
while read -r m; do left+=("mount $m"); done < <(awk -v nd="$ND" 'index($5, nd) == 1 {print $5}' /proc/self/mountinfo)
for d in $(cg_dirs); do left+=("cgroup $d"); done
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("bridge $BRIDGE")
if [[ -f "$ND/host/veths" ]]; then
  while read -r v; do left+=("veth $v"); done < <(ip -o link show type veth | awk -F': ' '{print $2}' | sed 's/@.*//' \
                                                  | sort | comm -13 "$ND/host/veths" -)
fi
if [[ -f "$ND/host/iptables.v4" ]]; then
  n_before="$(grep -c -e '^:KUBE-' -e '^:GRIDWATCH-' "$ND/host/iptables.v4")"
  n_after="$(iptables-save | grep -c -e '^:KUBE-' -e '^:GRIDWATCH-')"
  ((n_after > n_before)) && left+=("iptables: $((n_after - n_before)) KUBE-/GRIDWATCH- chains")
fi
if [[ -f "$ND/host/sysctl" ]]; then
  while IFS== read -r k v; do
    [[ "$(sysctl -n "$k" 2>/dev/null)" == "$v" ]] || left+=("sysctl $k is $(sysctl -n "$k"), was $v")
  done <"$ND/host/sysctl"
fi
if ((${#left[@]})); then
  printf '%s\n' "${left[@]}" >"$ND/leftovers"
  log "left behind:"
  printf '  %s\n' "${left[@]}" >&2
  exit 1
fi
: >"$ND/leftovers"
exit 0
