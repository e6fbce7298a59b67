#!/usr/bin/env bash
# Build (once) and cache metrics-server, which serves metrics.k8s.io (`kubectl top`, the HPA's CPU metrics) from
# the kubelets' /metrics/resource, for the real node's autoscaling test (tests/e2e/realnode/test_api_hpa.py):
#
#   ${GRIDWATCH_METRICS_SERVER_CACHE:-~/.cache/gridwatch/metrics-server}/<version>/metrics-server
#   ${...}/<version>/metrics-server.oci.tar   single-layer OCI image (tests/infra/images/oci.py), like CoreDNS's in
#                                             build-node.sh, for `ctr images import` into the node's containerd
#
# From the Go module proxy (`go install sigs.k8s.io/metrics-server/cmd/metrics-server@<version>`: its go.mod has no
# replace directives), static, with the version stamped as upstream's Makefile does. About 3 minutes of CPU on two
# cores cold; a second run only prints the directory. tests/infra/k8s/metrics-server.yaml deploys the image.
#
# Usage: tests/infra/k8s/build-metrics-server.sh        # prints the version directory last
# Env:   METRICS_SERVER_VERSION (default v0.9.0), GO, BUILD_JOBS (go install -p, default 2),
#        GRIDWATCH_METRICS_SERVER_CACHE
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
VERSION="${METRICS_SERVER_VERSION:-v0.9.0}"
BUILD_JOBS="${BUILD_JOBS:-2}"
CACHE_ROOT="${GRIDWATCH_METRICS_SERVER_CACHE:-${HOME}/.cache/gridwatch/metrics-server}"
if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
[[ -x "$GO" ]] || { echo "build-metrics-server.sh: no Go toolchain found (set GO=)" >&2; exit 1; }

DIR="${CACHE_ROOT}/${VERSION}"
BIN="${DIR}/metrics-server"
TAR="${DIR}/metrics-server.oci.tar"
mkdir -p "$DIR"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
log() { printf '[build-metrics-server.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

exec 9>"${DIR}/.build.lock"
flock 9

if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -qxF "$VERSION"; then
  log "metrics-server ${VERSION}: cached"
else
  t0=$SECONDS tmp="$(mktemp -d "${DIR}/gobin.XXXXXX")"
  log "metrics-server ${VERSION}: go install (-p ${BUILD_JOBS})"
  pkg=k8s.io/client-go/pkg/version  # what upstream's Makefile stamps
  (cd "$tmp" && GOBIN="$tmp" "$GO" install -p "$BUILD_JOBS" -trimpath \
     -ldflags "-s -w -X ${pkg}.gitVersion=${VERSION} -X ${pkg}.gitCommit=${VERSION} -X ${pkg}.buildDate=1970-01-01T00:00:00Z" \
     "sigs.k8s.io/metrics-server/cmd/metrics-server@${VERSION}")
  mv -f "$tmp/metrics-server" "$BIN"
  rm -rf "$tmp"
  log "metrics-server ${VERSION}: done in $((SECONDS - t0))s"
fi

# The image: the static binary alone, as upstream's (distroless/static, USER 65534). Rebuilt when the binary or
# the packer changes.
key="$(sha256sum "$BIN" "$REPO/tests/infra/images/oci.py" | sha256sum | cut -c1-16)"
if [[ -f "$TAR" && "$(cat "$TAR.key" 2>/dev/null)" == "$key" ]]; then
  log "metrics-server.oci.tar: cached"
else
  python3 "$REPO/tests/infra/images/oci.py" --name "registry.k8s.io/metrics-server/metrics-server:gridwatch" \
    --out "$TAR" --entrypoint '["/metrics-server"]' --user 65534 \
    --label "org.opencontainers.image.source=https://github.com/gridwatch/gridwatch" \
    --file "$BIN:/metrics-server:0755" >/dev/null
  echo "$key" >"$TAR.key"
  log "metrics-server.oci.tar: written"
fi
echo "$DIR"
