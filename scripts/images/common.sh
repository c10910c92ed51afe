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
