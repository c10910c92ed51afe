#!/usr/bin/env bash
# Builds a component's image with buildah, without a container engine, then smoke-tests it.
#
#   scripts/images/build-image.sh runner            (make runner-image)
#
# Environment: IMAGE_TAG (default localhost/archive-<component>:dev), BASE_SOURCE
# (auto|pull|debootstrap, see base-image.sh), BASE_IMAGE (skip base detection and use this
# stored or pullable image), IMAGE_CACHE_DIR, SKIP_SMOKE=1. See docs/images.md.
set -euo pipefail
# shellcheck source=scripts/images/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

component="${1:-}"
dockerfile="$REPO_ROOT/$component/Dockerfile"
[[ -n "$component" && -f "$dockerfile" ]] ||
  die "component '$component' has no Dockerfile at $component/Dockerfile; pass e.g. 'runner'"
tag="${IMAGE_TAG:-localhost/archive-$component:dev}"

prepare_cache_dir
require_tools buildah:buildah python3:python3
base_image="${BASE_IMAGE:-$("$IMAGES_DIR/base-image.sh")}"

# pip inside the build takes the same route to PyPI as pip on this machine (local mirrors,
# CA bundle), through read-only bind mounts that are never committed to the image.
mapfile -t pip_volumes < <(host_pip_config | python3 "$IMAGES_DIR/pip_context.py" "$IMAGE_CACHE_DIR/pip")

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/pyproject.toml" | head -n 1)"
revision="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
# Untracked files count too: the build context is the working tree, not the commit.
[[ -z "$(git -C "$REPO_ROOT" status --porcelain -- "$component" pyproject.toml 2>/dev/null)" ]] ||
  revision+="-dirty"
source_url="$(git -C "$REPO_ROOT" remote get-url origin 2>/dev/null || echo unknown)"

log "building $tag from $component/Dockerfile on $base_image"
started=$SECONDS
"${BUILDAH[@]}" build --isolation chroot --pull=missing --format oci \
  --file "$dockerfile" --tag "$tag" \
  --build-arg BASE_IMAGE="$base_image" \
  --build-arg VERSION="${version:-unknown}" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --build-arg SOURCE="$source_url" \
  "${pip_volumes[@]}" \
  "$REPO_ROOT" >&2
log "built $tag in $((SECONDS - started)) s"
# Intermediate (builder-stage) images are not kept: remove dangling ones so vfs storage stays small.
"${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true

if [[ "${SKIP_SMOKE:-}" != 1 && -x "$IMAGES_DIR/smoke-$component.sh" ]]; then
  "$IMAGES_DIR/smoke-$component.sh" "$tag" # ends with the image's size
else
  print_image_size "$tag"
fi
log "done; push with: buildah --root $IMAGE_CACHE_DIR/storage --storage-driver vfs push $tag <registry>/archive-$component:<tag>"
