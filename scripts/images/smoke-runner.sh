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
smoke_start "$tag"
container="$SMOKE_CONTAINER" work="$SMOKE_WORK"
smoke_check_user "$tag"

in_image "$container" -- archive-runner --help >/dev/null || die "smoke: archive-runner --help failed"
log "smoke: archive-runner --help ok"

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

smoke_check_root_untouched runner './data/*'
print_image_size "$tag"
log "smoke: $tag passed"
