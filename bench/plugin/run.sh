#!/bin/sh
# Benchmark 3 (kubectl plugin start-up and status -A over 1,000 schedules), as `make bench`
# runs it: about 3 minutes, most of it the operator making the schedules Ready.
set -eu
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m bench.plugin.commands "$@"
