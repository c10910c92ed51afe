"""Benchmark 1 — operator scale: N ArchiveSchedules to N CronJobs, against creating them directly.

    python -m bench.operator.scale [--cluster sandbox|real] [--schedules 1000] [--repeats 3]
        [--resync-seconds 20] [--resync-every-repeat] [--compare-coverage-off]
        [--compare-operator DIR] [--compare-sandbox DIR] [--profile DIR]

Each repeat runs every scenario once, in an order rotated from repeat to repeat, each on a
fresh `archive-sandbox serve` process, or with `--cluster real` on a fresh real control plane
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler on loopback: realcluster.py):

* baseline: the N CronJobs the operator would make, POSTed one after another through the
  `kubernetes` client; time until a watch has seen all N;
* schedules only: the N ArchiveSchedules POSTed the same way with no operator running (the
  floor of the operator scenario: its client's own requests); time until a watch has seen all N;
* operator: `archive-operator run --standalone -A` (real kopf) already watching; the N
  ArchiveSchedules POSTed the same way; time until watches have seen all N CronJobs and all N
  schedules Ready=True;
* what-if scenarios, when asked for: the same operator with coverage turned off
  (--compare-coverage-off: nocoverage.py), the operator from a patched copy of
  `archive_operator` (--compare-operator), or on another version of the sandbox
  (--compare-sandbox).

Reported per operator scenario: the time and its pairwise ratio to the baseline of the same
repeat (median and range), the time to POST the schedules alone, the time until the operator
went quiet, CPU seconds of sandbox (real: kube-apiserver + etcd, and the controller manager
beside them) and operator, the operator's peak RSS (VmHWM), API requests per schedule by client
(the sandbox's request log, or the API server's audit log: by user agent, else user name), the
status.coverage the schedules were given, and — on the last repeat, or every repeat with
--resync-every-repeat — the requests, writes and operator CPU of an operator restart and of one
full no-op resync of all N schedules. With --compare-coverage-off, the operator scenario against
the same without coverage, pairwise per repeat (the cost of coverage).

No schedule falls due within hours of the start (manifests.QUIET_HOURS), so no CronJob fires
and the operator has no run to record while the benchmark runs.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .harness import COVERAGE_ENV, temp_workdir
from .report import (
    print_profiles,
    report_baseline,
    report_floor,
    report_operator,
    report_pair,
)
from .runs import BaselineRun, OperatorRun, run_baseline, run_floor, run_operator


@dataclass
class Scenario:
    label: str
    operator_env: dict[str, str] | None  # None: the baseline, or with `floor` the floor
    sandbox_env: dict[str, str] = field(default_factory=dict)
    floor: bool = False
    baselines: list[BaselineRun] = field(default_factory=list)
    operators: list[OperatorRun] = field(default_factory=list)


def pythonpath(directory: Path) -> dict[str, str]:
    """A patched copy of a package in ``directory`` wins over the installed (editable) one."""
    return {"PYTHONPATH": str(directory.resolve())}


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    out = [
        Scenario("baseline", None),
        Scenario("operator", {}),
        Scenario("schedules only", None, floor=True),
    ]
    if args.compare_coverage_off:
        out.append(Scenario("operator, coverage off", {COVERAGE_ENV: "off"}))
    for directory in args.compare_operator:
        out.append(Scenario(f"operator from {directory}", pythonpath(directory)))
    if args.compare_sandbox:
        label = f"operator, sandbox from {args.compare_sandbox}"
        out.append(Scenario(label, {}, pythonpath(args.compare_sandbox)))
    return out


def run_one(
    scenario: Scenario, count: int, resync: float | None, keep: bool, cluster: str
) -> float:
    workdir = temp_workdir("bench-")
    try:
        if scenario.operator_env is None:
            run = run_floor if scenario.floor else run_baseline
            scenario.baselines.append(run(count, workdir, scenario.sandbox_env, cluster))
            return scenario.baselines[-1].seconds
        run = run_operator(
            count, workdir, scenario.operator_env, scenario.sandbox_env, resync, cluster=cluster
        )
        scenario.operators.append(run)
        return run.seconds
    finally:
        if keep:
            print(f"    logs: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cluster",
        choices=("sandbox", "real"),
        default="sandbox",
        help="what each scenario runs against: a fresh archive-sandbox (default) or a fresh real "
        "control plane (controlplane/, built once and cached)",
    )
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resync-seconds", type=float, default=20.0)
    parser.add_argument(
        "--resync-every-repeat",
        action="store_true",
        help="measure the restart and the no-op resync round after every repeat of each "
        "operator scenario, not only the last (pairs them; about 40 s more per run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs in the work directory")
    parser.add_argument(
        "--compare-coverage-off",
        action="store_true",
        help="add a scenario: the same operator with coverage turned off (nocoverage.py: "
        "coverage.decide answers 'nothing to say' for every schedule), to measure what "
        "coverage costs",
    )
    parser.add_argument(
        "--compare-operator",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="add a scenario (repeatable): the operator with DIR first on its PYTHONPATH (a "
        "patched copy of archive_operator there wins over the installed one)",
    )
    parser.add_argument(
        "--compare-sandbox",
        type=Path,
        metavar="DIR",
        help="add a scenario: the operator on a sandbox with DIR first on its PYTHONPATH "
        "(e.g. an older archive_sandbox)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="afterwards, one more operator run (not counted) under py-spy; stacks saved in DIR",
    )
    args = parser.parse_args()
    if args.cluster == "real" and args.compare_sandbox:
        parser.error("--compare-sandbox needs --cluster sandbox")
    count = args.schedules
    plan = scenarios(args)
    for repeat in range(args.repeats):
        last = repeat == args.repeats - 1
        shift = repeat % len(plan)
        for scenario in plan[shift:] + plan[:shift]:
            resync = args.resync_seconds if last or args.resync_every_repeat else None
            seconds = run_one(scenario, count, resync, args.keep, args.cluster)
            print(f"[{repeat + 1}] {scenario.label}: {seconds:.2f} s", flush=True)
    baseline = plan[0]
    if baseline.baselines:
        report_baseline(count, baseline.baselines, args.cluster)
        for scenario in plan[1:]:
            if scenario.floor and scenario.baselines:
                report_floor(
                    scenario.label, count, baseline.baselines, scenario.baselines, args.cluster
                )
            if scenario.operators:
                report_operator(
                    scenario.label, count, baseline.baselines, scenario.operators, args.cluster
                )
    on, off = plan[1], next((s for s in plan if s.operator_env == {COVERAGE_ENV: "off"}), None)
    if off is not None and on.operators and off.operators:
        report_pair("cost of coverage", count, on.operators, off.operators)
    if args.profile is not None:
        workdir = temp_workdir("bench-profile-")
        try:
            env = plan[1].operator_env or {}
            run_operator(count, workdir, env, {}, None, args.profile, cluster=args.cluster)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print_profiles(args.profile)


if __name__ == "__main__":
    main()
