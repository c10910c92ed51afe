"""Benchmark 1 — operator scale: N ArchiveSchedules to N CronJobs, against creating them directly.

    python -m bench.operator.scale [--schedules 1000] [--repeats 3] [--resync-seconds 20]

Each repeat runs, in alternating order, on a fresh `archive-sandbox serve` process each:

* baseline: the N CronJobs the operator would make, POSTed one after another through the
  `kubernetes` client; time until a watch has seen all N;
* operator: `archive-operator run --standalone -A` (real kopf) already watching; the N
  ArchiveSchedules POSTed the same way; time until watches have seen all N CronJobs and all N
  schedules Ready=True.

Reported: both times and their pairwise ratio (median and range over the repeats), the time to
POST the schedules alone, API requests per schedule by client (from the sandbox's request
log, by user agent), CPU seconds used by the sandbox and the operator, the operator's peak RSS
(VmHWM), and — once, after the last operator run — the write requests of an operator restart
and of one full no-op resync of all N schedules.

No schedule falls due within hours of the start (manifests.QUIET_HOURS), so no CronJob fires
and the operator has no run to record while the benchmark runs.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import manifests
from .harness import (
    BENCH_USER_AGENT,
    OperatorProcess,
    ProcStats,
    Profiler,
    SandboxProcess,
    Watcher,
    api_client,
    create_namespace,
    post,
    temp_workdir,
    top_functions,
    wait_for_watches,
    wait_until,
)
from .stats import median, ratios, summary

NAMESPACE = "bench"
SANDBOX_ARGS: tuple[str, ...] = ()
KOPF_AGENT = "kopf/"
KUBE_AGENT = "OpenAPI-Generator/"  # the operator's own calls (kube.py, the `kubernetes` client)
SCHEDULES_PATH = f"/apis/archive.auriora.io/v1alpha1/namespaces/{NAMESPACE}/archiveschedules"
CRONJOBS_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs"
TIMEOUT = 1800.0
QUIET_SECONDS = 3.0


@dataclass
class BaselineRun:
    seconds: float
    sandbox_cpu: float
    requests: int


@dataclass
class OperatorRun:
    seconds: float
    settled_seconds: float  # until the operator made no request for QUIET_SECONDS
    apply_seconds: float
    sandbox_cpu: float
    operator_cpu: float
    peak_rss_kib: int
    requests_by_agent: Counter[str]
    verbs: Counter[str]
    writes: Counter[str]
    resync: dict[str, Any] = field(default_factory=dict)


def _agent(user_agent: str) -> str:
    for prefix, label in (
        (KOPF_AGENT, "kopf"),
        (KUBE_AGENT, "operator"),
        (BENCH_USER_AGENT, "bench"),
    ):
        if user_agent.startswith(prefix):
            return label
    return user_agent or "?"


def _is_operator(record: dict[str, Any]) -> bool:
    return _agent(record["user_agent"]) in ("kopf", "operator")


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def count_at_least(count: int, ready: bool = False) -> Any:
    def complete(objects: dict[str, dict[str, Any]]) -> bool:
        if ready:
            return sum(1 for o in objects.values() if _ready(o)) >= count
        return len(objects) >= count

    return complete


SANDBOX_ENV: dict[str, str] = {}  # --sandbox-pythonpath


def start_sandbox(workdir: Path) -> tuple[SandboxProcess, Any]:
    sandbox = SandboxProcess(workdir, SANDBOX_ARGS, SANDBOX_ENV)
    sandbox.start()
    try:
        client = api_client(sandbox.kubeconfig)
        create_namespace(client, NAMESPACE)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, client


def run_baseline(count: int, workdir: Path) -> BaselineRun:
    bodies = manifests.cronjobs(manifests.schedules(count, NAMESPACE), manifests.bench_settings())
    sandbox, client = start_sandbox(workdir)
    try:
        watcher = Watcher(sandbox.kubeconfig, CRONJOBS_PATH, count_at_least(len(bodies)))
        watcher.start()
        time.sleep(0.5)  # the watch is open before the clock starts
        cpu = ProcStats(sandbox.pid)
        cpu_before, mark = cpu.cpu_seconds(), sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, CRONJOBS_PATH, body)
        seconds = watcher.wait(TIMEOUT) - started
        return BaselineRun(
            seconds=seconds,
            sandbox_cpu=cpu.cpu_seconds() - cpu_before,
            requests=len(sandbox.requests_since(mark)),
        )
    finally:
        sandbox.stop()


def run_operator(
    count: int,
    workdir: Path,
    resync_seconds: float | None,
    profile: Path | None = None,
    operator_env: dict[str, str] | None = None,
) -> OperatorRun:
    bodies = manifests.schedules(count, NAMESPACE)
    sandbox, client = start_sandbox(workdir)
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator.log", operator_env or {})
    try:
        mark = sandbox.mark()
        operator.start()
        wait_for_watches(sandbox, mark, {"archiveschedules", "cronjobs"}, KOPF_AGENT, 120)
        schedules = Watcher(sandbox.kubeconfig, SCHEDULES_PATH, count_at_least(count, ready=True))
        cronjobs = Watcher(sandbox.kubeconfig, CRONJOBS_PATH, count_at_least(count))
        schedules.start()
        cronjobs.start()
        time.sleep(0.5)
        sandbox_cpu, operator_cpu = ProcStats(sandbox.pid), ProcStats(operator.pid)
        cpu_before = (sandbox_cpu.cpu_seconds(), operator_cpu.cpu_seconds())
        profilers = _profilers(profile, sandbox.pid, operator.pid)
        mark = sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, SCHEDULES_PATH, body)
        applied = time.monotonic()
        done = max(schedules.wait(TIMEOUT), cronjobs.wait(TIMEOUT))
        for profiler in profilers:
            profiler.stop()
        if not operator.alive():
            raise RuntimeError(f"the operator exited; see {operator.log_path}")
        settled = wait_quiet(sandbox, mark) - started
        records = sandbox.requests_since(mark)
        operator_records = [r for r in records if _is_operator(r)]
        run = OperatorRun(
            seconds=done - started,
            settled_seconds=settled,
            apply_seconds=applied - started,
            sandbox_cpu=sandbox_cpu.cpu_seconds() - cpu_before[0],
            operator_cpu=operator_cpu.cpu_seconds() - cpu_before[1],
            peak_rss_kib=operator_cpu.memory_kib("VmHWM"),
            requests_by_agent=Counter(_agent(r["user_agent"]) for r in records),
            verbs=Counter(
                f"{r['verb']} {r['resource']}{'/' + r['subresource'] if r['subresource'] else ''}"
                for r in operator_records
            ),
            writes=Counter(r["verb"] for r in operator_records if r["is_write"]),
        )
        _check_same_cronjobs(cronjobs.objects, bodies)
        if resync_seconds is not None:
            operator.stop()
            run.resync = measure_noop_resync(
                sandbox, count, workdir, resync_seconds, operator_env or {}
            )
        return run
    finally:
        operator.stop()
        sandbox.stop()


def _profilers(directory: Path | None, sandbox_pid: int, operator_pid: int) -> list[Profiler]:
    if directory is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    return [
        Profiler(sandbox_pid, directory / "sandbox.txt"),
        Profiler(operator_pid, directory / "operator.txt"),
    ]


def print_profiles(directory: Path) -> None:
    for name in ("sandbox", "operator"):
        print(f"\n-- py-spy profile of the {name} (share of samples: on stack / on top) --")
        for function, inclusive, own in top_functions(directory / f"{name}.txt", limit=40):
            print(f"{inclusive:6.1%} {own:6.1%}  {function}")


def wait_quiet(sandbox: SandboxProcess, mark: int) -> float:
    """When the operator's last request since ``mark`` was answered, once it has made none
    for `QUIET_SECONDS` (the work it queued, e.g. events about its own writes, is done)."""
    last_count, last_change = -1, time.monotonic()
    while True:
        count = sum(1 for r in sandbox.requests_since(mark) if _is_operator(r))
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        elif now - last_change >= QUIET_SECONDS:
            return last_change
        if now - last_change > TIMEOUT:
            raise TimeoutError("the operator never went quiet")
        time.sleep(0.5)


def _check_same_cronjobs(actual: dict[str, dict[str, Any]], bodies: list[dict[str, Any]]) -> None:
    """The baseline must create what the operator creates: compare the specs once."""
    expected = manifests.cronjobs(bodies, manifests.bench_settings())
    for manifest in expected:
        got = actual[manifest["metadata"]["name"]]["spec"]
        want = manifest["spec"]
        if any(got.get(key) != value for key, value in want.items() if key != "jobTemplate"):
            raise AssertionError(f"{manifest['metadata']['name']}: operator {got} != {want}")


def measure_noop_resync(
    sandbox: SandboxProcess,
    count: int,
    workdir: Path,
    resync_seconds: float,
    operator_env: dict[str, str],
) -> dict[str, Any]:
    """Restart the operator (a no-op resume of every schedule), then wait for one full resync
    round (a cluster-wide LIST, then one reconcile per schedule); count what each wrote."""
    env = {**operator_env, "ARCHIVE_OPERATOR_RESYNC_SECONDS": str(resync_seconds)}
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator-restart.log", env)
    mark = sandbox.mark()
    operator.start()
    try:

        def resync_round() -> tuple[int, list[dict[str, Any]]] | None:
            records = sandbox.requests_since(mark)
            starts = [
                i
                for i, r in enumerate(records)
                if _agent(r["user_agent"]) == "operator"
                and r["verb"] == "list"
                and r["resource"] == "archiveschedules"
                and not r["namespace"]
            ]
            if not starts:
                return None
            after = records[starts[0] :]
            gets = [
                r
                for r in after
                if _agent(r["user_agent"]) == "operator"
                and r["verb"] == "get"
                and r["resource"] == "archiveschedules"
            ]
            return (starts[0], records) if len(gets) >= count else None

        started = time.monotonic()
        start_index, records = wait_until(resync_round, "one full resync round", TIMEOUT, 0.5)
        resync_records = [r for r in records[start_index:] if _is_operator(r)]
        resume_records = [r for r in records[:start_index] if _is_operator(r)]
        return {
            "resume_requests": len(resume_records),
            "resume_writes": sum(1 for r in resume_records if r["is_write"]),
            "resync_requests": len(resync_records),
            "resync_writes": sum(1 for r in resync_records if r["is_write"]),
            "resync_verbs": Counter(f"{r['verb']} {r['resource']}" for r in resync_records),
            "seconds_to_round_end": time.monotonic() - started,
            "peak_rss_kib": ProcStats(operator.pid).memory_kib("VmHWM"),
        }
    finally:
        operator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resync-seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep logs in the work directory")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="afterwards, one more operator run (not counted) under py-spy; stacks saved in DIR",
    )
    parser.add_argument(
        "--operator-pythonpath",
        type=Path,
        metavar="DIR",
        help="what-if runs: put DIR first on the operator's PYTHONPATH (a patched copy of "
        "archive_operator there wins over the installed one)",
    )
    parser.add_argument(
        "--sandbox-pythonpath",
        type=Path,
        metavar="DIR",
        help="likewise for the sandbox (e.g. an older archive_sandbox, to compare versions)",
    )
    args = parser.parse_args()
    count = args.schedules
    if args.sandbox_pythonpath:
        SANDBOX_ENV["PYTHONPATH"] = str(args.sandbox_pythonpath.resolve())
    operator_env = (
        {"PYTHONPATH": str(args.operator_pythonpath.resolve())} if args.operator_pythonpath else {}
    )

    baselines: list[BaselineRun] = []
    operators: list[OperatorRun] = []
    for repeat in range(args.repeats):
        last = repeat == args.repeats - 1
        order = ("baseline", "operator") if repeat % 2 == 0 else ("operator", "baseline")
        for which in order:
            workdir = temp_workdir(f"bench-{which}-")
            try:
                if which == "baseline":
                    baselines.append(run_baseline(count, workdir))
                    print(f"[{repeat + 1}] baseline {baselines[-1].seconds:.2f} s", flush=True)
                else:
                    resync = args.resync_seconds if last else None
                    operators.append(run_operator(count, workdir, resync, None, operator_env))
                    print(f"[{repeat + 1}] operator {operators[-1].seconds:.2f} s", flush=True)
            finally:
                if args.keep:
                    print(f"    logs: {workdir}")
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
    if operators and baselines:
        report(count, baselines, operators)
    if args.profile is not None:
        workdir = temp_workdir("bench-profile-")
        try:
            run_operator(count, workdir, None, args.profile, operator_env)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print_profiles(args.profile)


def report(count: int, baselines: list[BaselineRun], operators: list[OperatorRun]) -> None:
    base = [b.seconds for b in baselines]
    ours = [o.seconds for o in operators]
    pairs = ratios(ours, base)
    print()
    print(f"== Operator scale: {count} ArchiveSchedules → {count} CronJobs, all Ready ==")
    print(f"baseline (POST {count} CronJobs, kubernetes client): {summary(base)}")
    print(f"operator (POST {count} schedules → CronJobs + Ready): {summary(ours)}")
    print(
        "  until the operator went quiet:                     "
        f"{summary([o.settled_seconds for o in operators])}"
    )
    print(
        f"  of which POSTing the schedules:                     "
        f"{summary([o.apply_seconds for o in operators])}"
    )
    print(
        f"ratio operator/baseline: median {median(pairs):.2f}x "
        f"(range {min(pairs):.2f}-{max(pairs):.2f}; target ≤ 2x)"
    )
    print(f"sandbox CPU: baseline {summary([b.sandbox_cpu for b in baselines], 's CPU')}")
    print(f"             operator {summary([o.sandbox_cpu for o in operators], 's CPU')}")
    print(f"operator CPU: {summary([o.operator_cpu for o in operators], 's CPU')}")
    peak = max(o.peak_rss_kib for o in operators) / 1024
    print(f"operator peak RSS (VmHWM): {peak:.0f} MiB (target ≤ 150 MiB)")
    last = operators[-1]
    operator_requests = last.requests_by_agent["kopf"] + last.requests_by_agent["operator"]
    print(
        f"API requests per schedule (last run): operator {operator_requests / count:.2f} "
        f"(kopf {last.requests_by_agent['kopf'] / count:.2f}, "
        f"operator's own {last.requests_by_agent['operator'] / count:.2f}); "
        f"baseline {baselines[-1].requests / count:.2f}"
    )
    print(
        "  operator requests by verb: "
        + ", ".join(f"{verb} {n / count:.2f}" for verb, n in last.verbs.most_common())
    )
    print(
        "  operator writes: "
        + ", ".join(f"{verb} {n / count:.2f}" for verb, n in last.writes.most_common())
    )
    if last.resync:
        r = last.resync
        print(
            f"operator restart (no-op resume of {count}): {r['resume_writes']} writes "
            f"in {r['resume_requests']} requests"
        )
        print(
            f"one no-op resync of all {count}: {r['resync_writes']} writes (target 0) "
            f"in {r['resync_requests']} requests: "
            + ", ".join(f"{v} {n}" for v, n in r["resync_verbs"].most_common())
        )
        print(
            f"  restart → end of first resync round: {r['seconds_to_round_end']:.1f} s; "
            f"peak RSS after restart {r['peak_rss_kib'] / 1024:.0f} MiB"
        )


if __name__ == "__main__":
    main()
