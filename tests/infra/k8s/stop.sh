#!/usr/bin/env bash
# Stop a control plane started by start.sh DIR: SIGTERM in reverse start order, then
# SIGKILL after a grace period.  Only PIDs recorded in DIR/pids whose command line
# still mentions DIR are signalled (so a recycled PID is never hit).  Idempotent.
# A real node started by start-node.sh DIR is stopped (stop-node.sh) first.
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
DIR="$(cd "$1" && pwd)"
GRACE="${K8S_STOP_GRACE:-10}"

ours() { # pid -> true if it is alive and its command line mentions DIR (as "DIR/..." or "DIR")
  local cmd
  [[ -r "/proc/$1/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$1/cmdline") "
  [[ "$cmd" == *"$DIR/"* || "$cmd" == *" $DIR "* ]]
}

# Watchdog first, so it does not race with us.
if [[ -f "$DIR/watchdog.pid" ]]; then
  w="$(cat "$DIR/watchdog.pid")"
  [[ "$w" != "$$" && "$w" != "$PPID" ]] && ours "$w" && kill "$w" 2>/dev/null
  rm -f "$DIR/watchdog.pid"
fi

# A real node (start-node.sh) goes first, while the apiserver still answers.
if [[ -d "$DIR/node" ]]; then
  "$(dirname "${BASH_SOURCE[0]}")/stop-node.sh" "$DIR"
fi

for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="$DIR/pids/$name.pid"
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 $((GRACE * 10))); do ours "$pid" || break; sleep 0.1; done
    if ours "$pid"; then
      echo "stop.sh: $name ($pid) ignored SIGTERM, killing" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$f"
done
exit 0
