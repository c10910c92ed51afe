#!/usr/bin/env bash
# Makes sure a base image for the Dockerfiles is in buildah's storage; prints its name.
#
#   scripts/images/base-image.sh [auto|pull|debootstrap]      (or BASE_SOURCE=...)
#
# auto (default): the official image if it is already stored or can be pulled, else the
# debootstrap stand-in. pull: the official image or fail. debootstrap: always the stand-in.
# The stand-in is Debian bookworm (minimal variant) + python3, python3-venv, ca-certificates and
# tzdata from the mirror apt uses; its root filesystem is cached as a tarball under
# IMAGE_CACHE_DIR, so only the first build pays for debootstrap.
set -euo pipefail
# shellcheck source=scripts/images/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

source_kind="${1:-${BASE_SOURCE:-auto}}"
case "$source_kind" in auto | pull | debootstrap) ;; *)
  die "base source '$source_kind' is not one of auto, pull, debootstrap; pass one of them"
  ;;
esac

BASE_TARBALL="$IMAGE_CACHE_DIR/base/debian-$DEBIAN_SUITE-python3.tar"
BASE_PACKAGES="python3,python3-venv,ca-certificates,tzdata"

try_official() {
  image_exists "$OFFICIAL_BASE_IMAGE" && return 0
  log "pulling $OFFICIAL_BASE_IMAGE"
  timeout 600 "${BUILDAH[@]}" pull --quiet "$OFFICIAL_BASE_IMAGE" >/dev/null
}

make_base_tarball() {
  local mirror rootfs
  mirror="${DEBIAN_MIRROR:-$(python3 "$IMAGES_DIR/apt_mirror.py" "$DEBIAN_SUITE")}"
  mkdir -p "$IMAGE_CACHE_DIR/base" "$IMAGE_CACHE_DIR/debs"
  rootfs="$(mktemp -d "$IMAGE_CACHE_DIR/base/rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$rootfs'" EXIT
  log "debootstrap $DEBIAN_SUITE (minbase + $BASE_PACKAGES) from $mirror"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" \
    --cache-dir="$IMAGE_CACHE_DIR/debs" "$DEBIAN_SUITE" "$rootfs" "$mirror" >&2
  # Slim like the official image: no apt lists or caches, docs or locales (copyright files stay).
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/log/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/tmp/* "$rootfs"/root/.cache
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  find "$rootfs/usr/share/doc" -type d -empty -delete
  tar --numeric-owner --xattrs -C "$rootfs" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$BASE_TARBALL.partial" .
  mv "$BASE_TARBALL.partial" "$BASE_TARBALL"
  rm -rf "$rootfs"
  trap - EXIT
}

import_base_tarball() {
  local container
  log "importing $BASE_TARBALL as $LOCAL_BASE_IMAGE"
  container="$("${BUILDAH[@]}" from --quiet scratch)"
  "${BUILDAH[@]}" add --quiet "$container" "$BASE_TARBALL" / >/dev/null
  "${BUILDAH[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd python3 \
    --label org.opencontainers.image.title="debian-python" \
    --label org.opencontainers.image.description="Debian $DEBIAN_SUITE minbase + $BASE_PACKAGES, made with debootstrap by scripts/images/base-image.sh" \
    --label org.opencontainers.image.base.name="debian:$DEBIAN_SUITE" \
    "$container"
  "${BUILDAH[@]}" commit --quiet --rm "$container" "$LOCAL_BASE_IMAGE" >/dev/null
}

ensure_local_base() {
  image_exists "$LOCAL_BASE_IMAGE" && return 0
  if [[ ! -f "$BASE_TARBALL" ]]; then
    ((EUID == 0)) || die "debootstrap needs root: run this script with sudo once (the result is cached)"
    require_tools debootstrap:debootstrap
    make_base_tarball
  else
    log "using cached $BASE_TARBALL"
  fi
  import_base_tarball
}

prepare_cache_dir
require_tools buildah:buildah python3:python3
case "$source_kind" in
  pull)
    try_official || die "cannot pull $OFFICIAL_BASE_IMAGE; use BASE_SOURCE=debootstrap"
    echo "$OFFICIAL_BASE_IMAGE"
    ;;
  debootstrap)
    ensure_local_base
    echo "$LOCAL_BASE_IMAGE"
    ;;
  auto)
    if try_official 2>/dev/null; then
      echo "$OFFICIAL_BASE_IMAGE"
    else
      log "no registry access for $OFFICIAL_BASE_IMAGE: using the debootstrap base"
      ensure_local_base
      echo "$LOCAL_BASE_IMAGE"
    fi
    ;;
esac
