#!/usr/bin/env bash
# Smoke-tests a built runner image with `buildah run` (chroot isolation, no engine needed):
# the entry point answers --help as the image's non-root user, a real archive run copies an .ics
# file into a mounted directory, and nothing was written outside /tmp and the mounted volume
# (what a read-only root filesystem requires).
#
#   scripts/images/smoke-runner.sh [TAG]        (run by build-image.sh runner)
set -euo pipefail
# shellcheck source=scripts/images/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

tag="${1:-localhost/archive-runner:dev}"
image_exists "$tag" || die "image $tag is not in $IMAGE_CACHE_DIR/storage; run 'make runner-image'"

work="$(mktemp -d)"
container="$("${BUILDAH[@]}" from --quiet --pull=never "$tag")"
cleanup() {
  "${BUILDAH[@]}" rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
in_image() { "${BUILDAH[@]}" run --isolation chroot "$@"; }

touch "$work/before-runs"
expected_uid="$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")"
actual_uid="$(in_image "$container" -- id -u)"
[[ "${expected_uid%%:*}" == "$actual_uid" && "$actual_uid" != 0 ]] ||
  die "smoke: runs as uid $actual_uid, image says USER $expected_uid (want non-root)"
log "smoke: runs as uid $actual_uid"

if [[ -f "$REPO_ROOT/runner/archive_runner/cli.py" ]]; then
  in_image "$container" -- archive-runner --help >/dev/null || die "smoke: archive-runner --help failed"
  log "smoke: archive-runner --help ok"
else
  # The CLI module is not written yet: at least the package and its dependencies must import.
  in_image "$container" -- python -c "import archive_runner, caldav, icalendar, recurring_ical_events, httpx" ||
    die "smoke: importing the runner and its dependencies failed"
  log "smoke: archive_runner imports (no cli.py yet, so no --help check)"
fi

if in_image "$container" -- archive-runner run --help 2>/dev/null | grep -q -- '--destination-path'; then
  mkdir -p "$work/data/archive"
  cp "$IMAGES_DIR/smoke.ics" "$work/data/calendar.ics"
  chmod -R a+rwX "$work/data" # the image's user is not the host's
  in_image --volume "$work/data:/data" "$container" -- archive-runner run \
    --user smoke --source-type ics --source-url /data/calendar.ics \
    --destination-type directory --destination-path /data/archive \
    --start 2024-03-01 --end 2024-03-07 --time-zone Europe/Berlin \
    --termination-log /tmp/termination-log >"$work/result.json" ||
    die "smoke: archive run failed: $(cat "$work/result.json")"
  archived="$(find "$work/data/archive" -name '*.ics' | wc -l)"
  ((archived >= 2)) || die "smoke: expected the 2 events of smoke.ics archived, found $archived files"
  log "smoke: archive run ok ($archived .ics files): $(head -c 300 "$work/result.json")"
else
  log "smoke: 'archive-runner run' with a directory destination not available yet: archive run skipped"
fi

# Files changed during the runs, outside /tmp and the places buildah itself mounts over.
if ((EUID == 0)); then
  root="$("${BUILDAH[@]}" mount "$container")"
  written="$(cd "$root" && find . -newer "$work/before-runs" ! -type d \
    ! -path './tmp/*' ! -path './dev/*' ! -path './proc/*' ! -path './sys/*' ! -path './data/*' \
    ! -path './etc/hosts' ! -path './etc/hostname' ! -path './etc/resolv.conf' \
    ! -path './run/.containerenv' -print)"
  leaked="$([[ -e "$root/etc/xdg/pip" ]] && echo /etc/xdg/pip || true)"
  "${BUILDAH[@]}" umount "$container" >/dev/null
  [[ -z "$leaked" ]] || die "smoke: the build's pip mount point $leaked is in the image"
  [[ -z "$written" ]] || die "smoke: the runner wrote outside /tmp (breaks a read-only root): $written"
  log "smoke: nothing written outside /tmp"
fi
log "smoke: $tag passed"
