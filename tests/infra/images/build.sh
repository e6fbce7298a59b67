#!/usr/bin/env bash
# Build the workloads and operator images without a Docker engine (`make images`):
#   1. a Debian bookworm rootfs with Python made by mmdebstrap (variant essential: no apt), cached by
#      its package list;
#   2. the locked Python environment, `uv sync --frozen --no-dev --package <pkg>` run inside that
#      rootfs (chroot), laid out exactly like the Dockerfile's /app; the web UI (vite build) for
#      workloads; helm and charts/energy-site for the operator;
#   3. no uv, caches, apt lists or docs left; a non-root user 10001; entrypoint, user, env, workdir and
#      ports read from the Dockerfile's last stage; org.opencontainers.image.* labels;
#   4. packed by oci.py into a single-layer OCI image-layout tar (fixed mtimes, sorted, gzip -n), so the
#      same lock files and sources give the same digest.
# Each image is cached in ${GRIDWATCH_IMAGES_CACHE:-~/.cache/gridwatch/images} under a hash of every
# input, so a warm run only hashes files.
#
# Usage: tests/infra/images/build.sh [workloads] [operator]    # default both; prints one line per
#        image: NAME TAR (the tar loads with `ctr -n k8s.io images import TAR`)
# Env:   IMAGE_TAG (dev), GRIDWATCH_IMAGES_CACHE, K8S_BIN_DIR (where helm is; else build.sh's)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
CACHE="${GRIDWATCH_IMAGES_CACHE:-${HOME}/.cache/gridwatch/images}"
TAG="${IMAGE_TAG:-dev}"
SUITE=bookworm
PACKAGES=python3,ca-certificates,libstdc++6,tzdata
# 2024-01-01T00:00:00Z: every file's mtime and the image's creation time (reproducible builds).
export SOURCE_DATE_EPOCH=1704067200
mkdir -p "$CACHE"
export PATH="$HOME/.local/bin:$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # chroot lives in /usr/sbin

log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ "$(id -u)" == 0 ]] || { echo "images/build.sh: needs root (mmdebstrap, chroot)" >&2; exit 1; }
for tool in mmdebstrap uv unshare chroot; do
  command -v "$tool" >/dev/null || { echo "images/build.sh: $tool missing (bash .ci/install.sh)" >&2; exit 1; }
done

TMP_DIRS=()
trap 'rm -rf "${TMP_DIRS[@]}"' EXIT
exec 8>"$CACHE/.lock"
flock 8

hash_files() { # files... -> one sha256 over names and contents
  local f
  for f in "$@"; do printf '%s\n' "${f#"$REPO"/}"; sha256sum <"$f"; done | sha256sum | cut -c1-20
}
tree_files() { # dir -> tracked-or-not files, sorted, no caches
  (cd "$REPO" && find "$@" -type f ! -path '*/__pycache__/*' ! -path '*/node_modules/*' ! -name '*.pyc' | LC_ALL=C sort \
    | sed "s#^#$REPO/#")
}

# --- 1. base rootfs -------------------------------------------------------------------------
BASE_KEY="$(printf '%s\n' "$SUITE" "$PACKAGES" "$(mmdebstrap --version)" "$(sed -n '/^base_rootfs()/,/^}/p' "$HERE/build.sh")" \
           | sha256sum | cut -c1-20)"
BASE="$CACHE/base-$SUITE-$BASE_KEY.tar"
base_rootfs() {
  [[ -f "$BASE" ]] && { log "base rootfs: cached"; return; }
  log "base rootfs: mmdebstrap $SUITE ($PACKAGES)"
  local t0=$SECONDS
  mmdebstrap --quiet --variant=essential --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    --format=tar "$SUITE" "$BASE.tmp"
  mv -f "$BASE.tmp" "$BASE"
  log "base rootfs: $(du -h "$BASE" | cut -f1) in $((SECONDS - t0))s"
}
base_rootfs

# --- 2-4. one image ---------------------------------------------------------------------------
build_image() { # workloads|operator
  local which=$1 pkg name dockerfile extra=()
  case "$which" in
    workloads) pkg=gridwatch; name="ghcr.io/gridwatch/gridwatch:$TAG"; dockerfile="$REPO/workloads/Dockerfile"
               mapfile -t extra < <(tree_files workloads/src frontend/src frontend/public; \
                 ls "$REPO"/frontend/{package.json,package-lock.json,index.html,vite.config.*,tsconfig*.json} 2>/dev/null) ;;
    operator)  pkg=gridwatch-operator; name="ghcr.io/gridwatch/gridwatch-operator:$TAG"; dockerfile="$REPO/operator/Dockerfile"
               mapfile -t extra < <(tree_files operator/src charts/energy-site) ;;
    *) echo "images/build.sh: unknown image $which" >&2; return 2 ;;
  esac
  local helm=""
  if [[ "$which" == operator ]]; then
    helm="${K8S_BIN_DIR:-$("$REPO/tests/infra/k8s/build.sh" | tail -1)}/helm"
    extra+=("$helm")
  fi
  local key
  key="$(hash_files "$BASE" "$HERE/build.sh" "$HERE/oci.py" "$dockerfile" "$REPO/uv.lock" "$REPO/pyproject.toml" \
         "$REPO/workloads/pyproject.toml" "$REPO/operator/pyproject.toml" "${extra[@]}")"
  local out="$CACHE/$which-$key.oci.tar"
  if [[ -f "$out" ]]; then
    log "$which: cached ($out)"
    echo "$name $out"
    return
  fi
  local t0=$SECONDS tmp rootfs
  # A tmpfs when there is room: unpacking and removing ~40k files is much faster there.
  local scratch="$CACHE"
  if [[ -d /dev/shm && "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 4000000 ]]; then scratch=/dev/shm; fi
  tmp="$(mktemp -d "$scratch/gridwatch-image-$which.XXXXXX")"
  TMP_DIRS+=("$tmp")
  rootfs="$tmp/rootfs"
  mkdir -p "$rootfs"
  tar -xf "$BASE" -C "$rootfs"

  # The Dockerfile's /app: lock files, the three pyproject files, the package's sources.
  mkdir -p "$rootfs/app/workloads" "$rootfs/app/operator"
  cp "$REPO/pyproject.toml" "$REPO/uv.lock" "$rootfs/app/"
  cp "$REPO/workloads/pyproject.toml" "$rootfs/app/workloads/"
  cp "$REPO/operator/pyproject.toml" "$rootfs/app/operator/"
  case "$which" in
    workloads) (cd "$REPO" && tar -cf - --exclude=__pycache__ workloads/src) | tar -xf - -C "$rootfs/app" ;;
    operator)  (cd "$REPO" && tar -cf - --exclude=__pycache__ operator/src) | tar -xf - -C "$rootfs/app" ;;
  esac

  log "$which: uv sync --frozen --no-dev --package $pkg (in the rootfs)"
  # The host's uv cache (wheels the dev environment already has) and its CA store (a proxy's CA, like
  # UV_SYSTEM_CERTS on the host), both only bind-mounted for this step.
  local uv_cache
  uv_cache="$(uv cache dir)"
  mkdir -p "$uv_cache" "$rootfs/.uv-cache" "$rootfs/.uv"
  cp "$(command -v uv)" "$rootfs/.uv/uv"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # A private mount namespace: the bind mounts vanish with it, even if this script is killed.
  # shellcheck disable=SC2016
  unshare --mount --propagation private bash -c '
    set -e
    r=$1 cache=$2 pkg=$3
    mount --bind "$cache" "$r/.uv-cache"
    mount --bind /etc/ssl/certs "$r/etc/ssl/certs"
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    cd "$r"
    chroot "$r" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
      UV_CACHE_DIR=/.uv-cache UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
      UV_PYTHON=/usr/bin/python3 UV_PROJECT_ENVIRONMENT=/app/.venv UV_NO_PROGRESS=1 UV_SYSTEM_CERTS=1 \
      /bin/sh -c "cd /app && /.uv/uv sync --quiet --frozen --no-dev --package $pkg"
    if [ "$pkg" = gridwatch ]; then
      # The numba loops of the scorer, compiled once here instead of in every new processor (GRIDWATCH_NUMBA_SEED
      # in workloads/Dockerfile); numba keys its cache by the mtime of the source, so the sources first get the
      # mtime the image layer will carry (oci.py: SOURCE_DATE_EPOCH)
      chroot "$r" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp NUMBA_CACHE_DIR=/app/.numba /bin/sh -c \
        "find /app/workloads/src -exec touch -h -d @$SOURCE_DATE_EPOCH {} + && /app/.venv/bin/python -m gridwatch.common.scoring"
    fi
  ' uv-chroot "$rootfs" "$uv_cache" "$pkg"
  rm -rf "$rootfs/.uv" "$rootfs/.uv-cache" "$rootfs/tmp/"* "$rootfs/root/.cache"
  : >"$rootfs/etc/resolv.conf"

  case "$which" in
    workloads)
      log "workloads: vite build of the web UI"
      (cd "$REPO/frontend" && npx --no-install vite build --logLevel warn --outDir "$rootfs/app/ui" --emptyOutDir) >&2 ;;
    operator)
      install -m 0755 "$helm" "$rootfs/usr/local/bin/helm"
      mkdir -p "$rootfs/opt/gridwatch/charts"
      cp -r "$REPO/charts/energy-site" "$rootfs/opt/gridwatch/charts/energy-site" ;;
  esac

  # The non-root user of the Dockerfile (groupadd/useradd --system, uid/gid 10001, home /app).
  echo "gridwatch:x:10001:" >>"$rootfs/etc/group"
  echo "gridwatch:x:10001:10001::/app:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
  echo "gridwatch:!*:19723::::::" >>"$rootfs/etc/shadow"
  chown -R 10001:10001 "$rootfs/app"
  [[ -d "$rootfs/opt/gridwatch" ]] && chown -R 10001:10001 "$rootfs/opt/gridwatch"
  find "$rootfs/var/log" "$rootfs/var/cache" "$rootfs/var/lib/apt/lists" -mindepth 1 -delete 2>/dev/null || true

  local version
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/${which}/pyproject.toml" | head -1)"
  python3 "$HERE/oci.py" --rootfs "$rootfs" --name "$name" --out "$tmp/image.tar" --dockerfile "$dockerfile" \
    --label "org.opencontainers.image.title=$pkg" \
    --label "org.opencontainers.image.description=Gridwatch $which image, built without Docker from Debian $SUITE and uv.lock" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.source=https://github.com/gridwatch/gridwatch" \
    --label "org.opencontainers.image.base.name=docker.io/library/debian:$SUITE" \
    --label "org.opencontainers.image.created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
    --label "org.opencontainers.image.revision=$key" >/dev/null
  mv -f "$tmp/image.tar" "$out"
  rm -rf "$tmp"
  # Keep the newest three of each image.
  ls -t "$CACHE/$which-"*.oci.tar 2>/dev/null | tail -n +4 | xargs -r rm -f
  log "$which: $(du -h "$out" | cut -f1) in $((SECONDS - t0))s ($out)"
  echo "$name $out"
}

images=("$@")
((${#images[@]})) || images=(workloads operator)
for i in "${images[@]}"; do build_image "$i"; done
