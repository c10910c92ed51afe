#!/bin/sh
# Benchmark 2 (runner throughput), as `make bench` runs it. Takes long (see docs/benchmarks.md):
# Radicale's PUT checks every stored item for a UID clash, so a first run costs minutes.
set -eu
cd "$(dirname "$0")/../.."
exec .venv/bin/python bench/runner/throughput.py "$@"
