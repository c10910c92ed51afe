# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the scripts that source it
# Shared settings of the image scripts (sourced, not run). See docs/images.md.
#
# Everything buildah stores lives under IMAGE_CACHE_DIR (default .cache/images in the repository,
# which ignores itself in git): vfs storage (no overlay or fuse needed, works rootless) and chroot
# isolation (no runc/crun namespaces needed), so the build works where no container engine runs.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGES_DIR="$REPO_ROOT/scripts/images"
IMAGE_CACHE_DIR="${IMAGE_CACHE_DIR:-$REPO_ROOT/.cache/images}"

# The official base the Dockerfiles default to, and the local stand-in made with debootstrap
# when no container registry can be reached. Same Debian release and Python minor version.
OFFICIAL_BASE_IMAGE="docker.io/library/python:3.11-slim"
LOCAL_BASE_IMAGE="localhost/archive-base/debian-python:bookworm"
DEBIAN_SUITE="bookworm"

export BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$IMAGE_CACHE_DIR/storage" --runroot "$IMAGE_CACHE_DIR/runroot"
  --storage-driver vfs)

log() { printf '[images] %s\n' "$*" >&2; }
die() {
  printf '[images] error: %s\n' "$*" >&2
  exit 1
}

prepare_cache_dir() {
  mkdir -p "$IMAGE_CACHE_DIR"
  # The cache ignores itself, so no repository .gitignore has to know about it.
  [[ -f "$IMAGE_CACHE_DIR/.gitignore" ]] || printf '*\n' >"$IMAGE_CACHE_DIR/.gitignore"
}

# require_tools COMMAND:DEBIAN_PACKAGE...: installs what is missing with apt when running as
# root (a clean machine), otherwise says what to install.
APT_UPDATED=
require_tools() {
  local spec command package missing=()
  for spec in "$@"; do
    command="${spec%%:*}" package="${spec#*:}"
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  if ((EUID != 0)); then
    die "missing ${missing[*]}: run 'sudo apt-get update && sudo apt-get install --no-install-recommends ${missing[*]}'"
  fi
  if [[ -z "$APT_UPDATED" ]]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

image_exists() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# pip's effective configuration on this machine (files and PIP_* variables), whichever pip exists.
host_pip_config() {
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip config list
  elif [[ -x "$REPO_ROOT/.venv/bin/pip" ]]; then
    "$REPO_ROOT/.venv/bin/pip" config list
  fi
}

# --- Smoke tests (smoke-<component>.sh) -----------------------------------------------------

# smoke_start TAG: a working container of TAG in SMOKE_CONTAINER, a scratch directory in
# SMOKE_WORK and a marker file SMOKE_WORK/before-runs; both are removed on exit.
smoke_start() {
  local tag="$1"
  image_exists "$tag" || die "image $tag is not in $IMAGE_CACHE_DIR/storage; run 'make images'"
  SMOKE_WORK="$(mktemp -d)"
  SMOKE_CONTAINER="$("${BUILDAH[@]}" from --quiet --pull=never "$tag")"
  trap smoke_cleanup EXIT
  touch "$SMOKE_WORK/before-runs"
}
smoke_cleanup() {
  "${BUILDAH[@]}" rm "$SMOKE_CONTAINER" >/dev/null 2>&1 || true
  rm -rf "$SMOKE_WORK"
}

# in_image [buildah run options] CONTAINER -- COMMAND...
in_image() { "${BUILDAH[@]}" run --isolation chroot "$@"; }

# smoke_check_user TAG: commands run as the image's USER, and that is not root.
smoke_check_user() {
  local expected actual
  expected="$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$1")"
  actual="$(in_image "$SMOKE_CONTAINER" -- id -u)"
  [[ "${expected%%:*}" == "$actual" && "$actual" != 0 ]] ||
    die "smoke: runs as uid $actual, image says USER $expected (want non-root)"
  log "smoke: runs as uid $actual"
}

# smoke_check_root_untouched WHAT [PATH_PATTERN...]: as root (it mounts the container), fails
# when a file outside /tmp (and the given find -path patterns, e.g. './data/*' for a mounted
# volume) changed since smoke_start, which a read-only root filesystem would refuse, or when
# the build's pip mount point ended up in the image. Without root it says it skipped.
smoke_check_root_untouched() {
  local what="$1" root written leaked pattern
  shift
  if ((EUID != 0)); then
    log "smoke: not root, so the read-only-root check (it mounts the container) is skipped"
    return 0
  fi
  local excluded=(! -path './tmp/*' ! -path './dev/*' ! -path './proc/*' ! -path './sys/*'
    ! -path './etc/hosts' ! -path './etc/hostname' ! -path './etc/resolv.conf'
    ! -path './run/.containerenv')
  for pattern in "$@"; do excluded+=(! -path "$pattern"); done
  root="$("${BUILDAH[@]}" mount "$SMOKE_CONTAINER")"
  written="$(cd "$root" && find . -newer "$SMOKE_WORK/before-runs" ! -type d "${excluded[@]}" -print)"
  leaked="$([[ -e "$root/etc/xdg/pip" ]] && echo /etc/xdg/pip || true)"
  "${BUILDAH[@]}" umount "$SMOKE_CONTAINER" >/dev/null
  [[ -z "$leaked" ]] || die "smoke: the build's pip mount point $leaked is in the image"
  [[ -z "$written" ]] || die "smoke: the $what wrote outside /tmp (breaks a read-only root): $written"
  log "smoke: nothing written outside /tmp"
}

# print_image_size TAG: the image's size and, as root, its venv's.
print_image_size() {
  local size venv=""
  size="$("${BUILDAH[@]}" images --format '{{.Size}}' "$1" | head -n 1)"
  if ((EUID == 0)) && [[ -n "${SMOKE_CONTAINER:-}" ]]; then
    venv=" (venv $(du -sh "$("${BUILDAH[@]}" mount "$SMOKE_CONTAINER")/opt/venv" | cut -f1))"
    "${BUILDAH[@]}" umount "$SMOKE_CONTAINER" >/dev/null
  fi
  log "size: $1 $size$venv"
}
