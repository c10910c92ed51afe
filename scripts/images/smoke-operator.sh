#!/usr/bin/env bash
# Smoke-tests a built operator image with `buildah run` (chroot isolation, no engine needed): as
# the image's non-root user, `archive-operator --help` and `archive-operator run --help` answer,
# the handlers import with kopf and the Kubernetes client (what `run` loads before it connects),
# time zones resolve (schedules are in the user's zone), the other components are not in the
# image (of the runner only its contract module, which the operator imports), and nothing was
# written outside /tmp (what a read-only root filesystem requires).
#
#   scripts/images/smoke-operator.sh [TAG]      (run by build-image.sh operator)
set -euo pipefail
# shellcheck source=scripts/images/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

tag="${1:-localhost/archive-operator:dev}"
smoke_start "$tag"
container="$SMOKE_CONTAINER"
smoke_check_user "$tag"

# expect_output WHAT PATTERN COMMAND...: the command succeeds and prints PATTERN (grep -E).
expect_output() {
  local what="$1" pattern="$2" output
  shift 2
  output="$(in_image "$container" -- "$@" 2>&1)" || die "smoke: $what failed: $output"
  grep -Eq -- "$pattern" <<<"$output" || die "smoke: $what does not mention '$pattern': $output"
  log "smoke: $what ok"
}

expect_output "archive-operator --help" '^ +run ' archive-operator --help
expect_output "archive-operator run --help" '--all-namespaces' archive-operator run --help
expect_output "handlers, kopf, kubernetes and time zones" '^imports ok$' python -c '
import kopf, kubernetes, zoneinfo
import archive_operator.handlers
zoneinfo.ZoneInfo("Europe/Berlin")
print("imports ok")'
expect_output "the image holds the operator and the runner contract alone" '^operator only$' python -c '
import importlib.util as u, pathlib
import archive_runner.contract
runner = sorted(p.name for p in pathlib.Path(archive_runner.contract.__file__).parent.glob("*.py"))
others = [m for m in ("archive_sandbox", "pytest") if u.find_spec(m)]
if runner != ["__init__.py", "contract.py"]:
    others.append("archive_runner: " + " ".join(runner))
print("also: " + " ".join(others) if others else "operator only")'

smoke_check_root_untouched operator
print_image_size "$tag"
log "smoke: $tag passed"
