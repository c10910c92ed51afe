"""Printing benchmark 1's figures."""

from __future__ import annotations

from pathlib import Path

from .harness import top_functions
from .runs import BaselineRun, OperatorRun
from .stats import median, ratios, summary


def report_baseline(count: int, baselines: list[BaselineRun]) -> None:
    print(f"\n== Operator scale: {count} ArchiveSchedules → {count} CronJobs, all Ready ==")
    seconds = summary([b.seconds for b in baselines])
    print(f"baseline (POST {count} CronJobs, kubernetes client): {seconds}")
    print(f"  sandbox CPU: {summary([b.sandbox_cpu for b in baselines], 's CPU')}")
    print(f"  API requests per CronJob: {baselines[-1].requests / count:.2f}")


def report_floor(
    label: str, count: int, baselines: list[BaselineRun], floors: list[BaselineRun]
) -> None:
    pairs = ratios([f.seconds for f in floors], [b.seconds for b in baselines])
    print(f"\n-- {label} (POST {count} ArchiveSchedules, no operator) --")
    print(f"time: {summary([f.seconds for f in floors])}")
    print(
        f"  ratio to the baseline (pairwise): median {median(pairs):.2f}x "
        f"(range {min(pairs):.2f}-{max(pairs):.2f})"
    )
    print(f"  sandbox CPU: {summary([f.sandbox_cpu for f in floors], 's CPU')}")


def report_operator(
    label: str, count: int, baselines: list[BaselineRun], operators: list[OperatorRun]
) -> None:
    pairs = ratios([o.seconds for o in operators], [b.seconds for b in baselines])
    print(f"\n-- {label} --")
    print(
        f"POST {count} schedules → all CronJobs + Ready: {summary([o.seconds for o in operators])}"
    )
    print(
        f"  ratio to the baseline (pairwise): median {median(pairs):.2f}x "
        f"(range {min(pairs):.2f}-{max(pairs):.2f}; target <= 2x)"
    )
    print(f"  of which POSTing the schedules: {summary([o.apply_seconds for o in operators])}")
    print(f"  until the operator went quiet:  {summary([o.settled_seconds for o in operators])}")
    print(f"  sandbox CPU until done:  {summary([o.sandbox_cpu for o in operators], 's CPU')}")
    print(f"  operator CPU until done: {summary([o.operator_cpu for o in operators], 's CPU')}")
    peak = max(o.peak_rss_kib for o in operators) / 1024
    print(f"  operator peak RSS (VmHWM): {peak:.0f} MiB (target <= 150 MiB)")
    last = operators[-1]
    ours = last.requests_by_agent["kopf"] + last.requests_by_agent["operator"]
    print(
        f"  API requests per schedule, until quiet (last run): {ours / count:.2f} "
        f"(kopf {last.requests_by_agent['kopf'] / count:.2f}, "
        f"operator's own {last.requests_by_agent['operator'] / count:.2f})"
    )
    print("    by verb: " + ", ".join(f"{v} {n / count:.2f}" for v, n in last.verbs.most_common()))
    print("    writes: " + ", ".join(f"{v} {n / count:.2f}" for v, n in last.writes.most_common()))
    if last.resync:
        r = last.resync
        print(
            f"  restart (start-up reconcile of {count}, nothing to change): "
            f"{r['resume_writes']} writes in {r['resume_requests']} requests"
        )
        print(
            f"  one no-op resync of all {count}: {r['resync_writes']} writes (target 0) "
            f"in {r['resync_requests']} requests: "
            + ", ".join(f"{v} {n}" for v, n in r["resync_verbs"].most_common())
        )
        print(
            f"  restart → end of the first resync round: {r['seconds_to_round_end']:.1f} s; "
            f"peak RSS of the restarted operator {r['peak_rss_kib'] / 1024:.0f} MiB"
        )


def print_profiles(directory: Path) -> None:
    for name in ("sandbox", "operator"):
        print(f"\n-- py-spy profile of the {name} (share of samples: on stack / on top) --")
        for function, inclusive, own in top_functions(directory / f"{name}.txt", limit=40):
            print(f"{inclusive:6.1%} {own:6.1%}  {function}")
