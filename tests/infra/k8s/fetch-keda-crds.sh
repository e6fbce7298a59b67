#!/usr/bin/env bash
# Fetch (once) and cache KEDA's CRDs (ScaledObject, TriggerAuthentication) for the kwok e2e test that the
# energy-site chart's ScaledObject is admitted by a real API server (tests/e2e/test_keda.py).
#
#   ${GRIDWATCH_KEDA_CACHE:-~/.cache/gridwatch/keda}/<version>/crds/keda.sh_{scaledobjects,triggerauthentications}.yaml
#
# From the Go module proxy like tests/infra/k8s/build-prometheus-operator.sh: the module zip of
# github.com/kedacore/keda/v2 carries config/crd/bases/. Nothing is built. A second run only prints the directory.
#
# Usage: tests/infra/k8s/fetch-keda-crds.sh        # prints the version directory last
# Env:   KEDA_VERSION (default v2.21.0), GO, GRIDWATCH_KEDA_CACHE
set -euo pipefail

KEDA_VERSION="${KEDA_VERSION:-v2.21.0}"
CACHE_ROOT="${GRIDWATCH_KEDA_CACHE:-${HOME}/.cache/gridwatch/keda}"
if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
[[ -x "$GO" ]] || { echo "fetch-keda-crds.sh: no Go toolchain found (set GO=)" >&2; exit 1; }

VER_DIR="${CACHE_ROOT}/${KEDA_VERSION}"
mkdir -p "${VER_DIR}/crds" "${VER_DIR}/work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"

exec 9>"${VER_DIR}/.fetch.lock"
flock 9

CRDS=(keda.sh_scaledobjects.yaml keda.sh_triggerauthentications.yaml)
missing=0
for crd in "${CRDS[@]}"; do [[ -s "${VER_DIR}/crds/${crd}" ]] || missing=1; done
if [[ "$missing" == 1 ]]; then
  MOD="github.com/kedacore/keda/v2"
  src="$(cd "${VER_DIR}/work" && "$GO" mod download -json "${MOD}@${KEDA_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src/config/crd/bases" ]] || { echo "fetch-keda-crds.sh: no config/crd/bases in ${src:-the module}" >&2; exit 1; }
  for crd in "${CRDS[@]}"; do
    cp "$src/config/crd/bases/${crd}" "${VER_DIR}/crds/${crd}.tmp"
    chmod u+w "${VER_DIR}/crds/${crd}.tmp"
    mv -f "${VER_DIR}/crds/${crd}.tmp" "${VER_DIR}/crds/${crd}"
  done
fi
echo "$VER_DIR"
