"""Benchmark 3 — the kubectl plugin: start-up, and `status -A` over N schedules.

    python -m bench.plugin.commands [--schedules 1000] [--repeats 15]

1. Start-up: `kubectl-archive --help` and `kubectl archive --help` (kubectl's plugin dispatch,
   the venv's bin first on PATH), against `python -c pass` (the interpreter's floor) and
   `kubectl get --help` (kubectl alone). Target: help <= 0.3 s.
2. Listing: a fresh `archive-sandbox serve` with N ArchiveSchedules made Ready by the real
   operator (stopped before timing, so nothing else loads the sandbox), then
   `kubectl archive status -A` against `kubectl get archiveschedules -A` on the same data.
   Target: status <= 1.5x kubectl get.

Commands run in alternation (A, B, A, B, ...), stdout to /dev/null, after one warm-up each;
reported: median and range of wall time, and the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import urllib3

from bench.operator import manifests
from bench.operator.harness import (
    BIN,
    OperatorProcess,
    Watcher,
    bearer_headers,
    post,
    temp_workdir,
    wait_for_watches,
)
from bench.operator.runs import (
    KOPF_AGENT,
    NAMESPACE,
    SCHEDULES_PATH,
    TIMEOUT,
    count_at_least,
    start_sandbox,
)
from bench.operator.stats import median, spread

Command = Sequence[str]


def time_alternating(
    commands: dict[str, Command], repeats: int, env: dict[str, str]
) -> dict[str, list[float]]:
    """Wall times of each command, run in turn ``repeats`` times after one warm-up each."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for round_ in range(repeats + 1):
        for label, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
            elapsed = time.perf_counter() - started
            if round_ > 0:
                times[label].append(elapsed)
    return times


def print_times(times: dict[str, list[float]], reference: str) -> None:
    base = median(times[reference])
    for label, values in times.items():
        ratio = median(values) / base
        print(
            f"  {label:<42} median {median(values):.3f} s (range {spread(values, 3)} s, "
            f"n={len(values)})  {ratio:.2f}x {reference}"
        )


def plugin_env(kubeconfig: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("NO_COLOR", None)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


def startup(repeats: int) -> None:
    kubectl = shutil.which("kubectl", path=str(BIN)) or "kubectl"
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "kubectl get --help": [kubectl, "get", "--help"],
        "kubectl-archive --help": [str(BIN / "kubectl-archive"), "--help"],
        "kubectl archive --help": [kubectl, "archive", "--help"],
    }
    print("== Plugin start-up (target: help <= 0.3 s) ==")
    print_times(time_alternating(commands, repeats, plugin_env()), "python -c pass")


def populate(count: int, workdir: Path) -> tuple[object, Path]:
    """A sandbox holding ``count`` schedules that the real operator has made Ready."""
    sandbox, client = start_sandbox(workdir)
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator.log", env={})
    try:
        mark = sandbox.mark()
        operator.start()
        wait_for_watches(sandbox, mark, {"archiveschedules", "cronjobs"}, KOPF_AGENT, 120)
        ready = Watcher(sandbox.kubeconfig, SCHEDULES_PATH, count_at_least(count, ready=True))
        ready.start()
        for body in manifests.schedules(count, NAMESPACE):
            post(client, SCHEDULES_PATH, body)
        ready.wait(TIMEOUT)
        ready.stop()
    except BaseException:
        sandbox.stop()
        raise
    finally:
        operator.stop()
    return sandbox, sandbox.kubeconfig


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
LIST_PATH = "/apis/archive.auriora.io/v1alpha1/archiveschedules"


def fetch_all(kubeconfig: Path, accept: str, limit: int | None) -> int:
    """The LIST a command makes (kubectl: Tables in pages of 500; the plugin: one JSON list),
    read to the end but not decoded; returns the bytes received."""
    server, headers = bearer_headers(kubeconfig)
    http = urllib3.PoolManager()
    received, token = 0, ""
    while True:
        query = {"limit": str(limit)} if limit else {}
        if token:
            query["continue"] = token
        response = http.request(
            "GET", server + LIST_PATH, fields=query, headers={**headers, "Accept": accept}
        )
        received += len(response.data)
        token = json.loads(response.data).get("metadata", {}).get("continue", "") if limit else ""
        if not token:
            return received


def server_times(kubeconfig: Path, repeats: int) -> dict[str, list[float]]:
    """Wall time of each command's API requests alone, alternating, after one warm-up."""
    requests = {
        "kubectl get's requests (Table, limit=500)": (TABLE, 500),
        "kubectl archive status's request (JSON)": ("application/json", None),
    }
    times: dict[str, list[float]] = {label: [] for label in requests}
    for round_ in range(repeats + 1):
        for label, (accept, limit) in requests.items():
            started = time.perf_counter()
            size = fetch_all(kubeconfig, accept, limit)
            if round_ > 0:
                times[label].append(time.perf_counter() - started)
            elif label not in SIZES:
                SIZES[label] = size
    return times


SIZES: dict[str, int] = {}


def listing(count: int, repeats: int) -> None:
    workdir = temp_workdir("bench-plugin-")
    sandbox, kubeconfig = populate(count, workdir)
    try:
        kubectl = shutil.which("kubectl", path=str(BIN)) or "kubectl"
        env = plugin_env(kubeconfig)
        commands = {
            "kubectl get archiveschedules -A": [kubectl, "get", "archiveschedules", "-A"],
            "kubectl archive status -A": [kubectl, "archive", "status", "-A"],
            "kubectl-archive status -A": [str(BIN / "kubectl-archive"), "status", "-A"],
        }
        lines = {
            label: subprocess.run(
                command, env=env, capture_output=True, text=True, check=True
            ).stdout.count("\n")
            for label, command in commands.items()
        }
        print(f"\n== {count} schedules: status -A vs kubectl get -A (target <= 1.5x) ==")
        print("  output lines: " + ", ".join(f"{k}: {v}" for k, v in lines.items()))
        print_times(time_alternating(commands, repeats, env), "kubectl get archiveschedules -A")
        print("  the API requests alone (server time + transfer, no decoding):")
        times = server_times(kubeconfig, repeats)
        for label, values in times.items():
            print(
                f"  {label:<42} median {median(values):.3f} s (range {spread(values, 3)} s), "
                f"{SIZES[label] / 1e6:.2f} MB"
            )
    finally:
        sandbox.stop()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    startup(args.repeats)
    listing(args.schedules, args.repeats)


if __name__ == "__main__":
    main()
