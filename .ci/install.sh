#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for Gridwatch: system packages, uv and the Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v openssl >/dev/null || need_apt+=(openssl)
# MQTT ingest: the broker the tests and `make up` start, and mosquitto_pub for docs/devices.md's examples
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null || need_apt+=(mosquitto-clients)
# The real test node (tests/infra/k8s/build-node.sh) and the Docker-free images (tests/infra/images/build.sh).
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need_apt+=(iptables)
command -v conntrack >/dev/null || [ -x /usr/sbin/conntrack ] || need_apt+=(conntrack)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v mmdebstrap >/dev/null || need_apt+=(mmdebstrap)
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)
# The web UI: Node.js 20.19+ to build it, Debian's Chromium for the browser tests (no browser download).
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v chromium >/dev/null || need_apt+=(chromium fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# uv: the one on PATH, else ~/.local/bin/uv (pip --user's bin dir, which a fresh shell does not have on PATH),
# else install it there. Debian marks its Python "externally managed" (PEP 668); uv is a single static binary
# with no Python dependencies, so --break-system-packages cannot disturb Debian's own packages.
if command -v "${UV:-uv}" >/dev/null 2>&1; then UV="$(command -v "${UV:-uv}")"; else UV="$HOME/.local/bin/uv"; fi
if [ ! -x "$UV" ]; then
  echo "[setup] installing uv into ~/.local/bin"
  python3 -m pip install --quiet --user "uv==0.13.9" 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages "uv==0.13.9"
fi
# The system's certificate store, as apt, pip and curl use (uv bundles Mozilla's roots otherwise).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
"$UV" sync --frozen --quiet
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || echo "[setup] warning: Node.js $(node --version) is older than 20.19, which Vite needs to build frontend/"
# --prefer-offline: packages already in the npm cache are not re-checked against the registry. Node trusts the
# system's certificate store too (like UV_SYSTEM_CERTS above), so a proxy's CA installed there works.
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] || [ ! -f /etc/ssl/certs/ca-certificates.crt ] \
  || export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
[ -d frontend/node_modules ] || npm --prefix frontend ci --prefer-offline --no-audit --no-fund --loglevel=error
# The charts' README generator (make chart-docs, tests/unit/charts/test_readme.py), pinned in its own lock file.
[ -d tools/chart-docs/node_modules ] || npm --prefix tools/chart-docs ci --prefer-offline --no-audit --no-fund --loglevel=error
