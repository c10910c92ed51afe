#!/bin/sh
# Benchmark 1 (operator scale), as `make bench` runs it: about 3 minutes per repeat on 2 cores
# (see docs/benchmarks.md). Extra arguments go to the script, e.g. --schedules 100 --repeats 1,
# or --cluster real (a real control plane instead of the sandbox: about 9 minutes for 3 repeats).
set -eu
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m bench.operator.scale "$@"
