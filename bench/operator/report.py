"""Printing benchmark 1's figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .harness import top_functions
from .runs import BaselineRun, OperatorRun
from .stats import median, ratios, summary

SERVER = {"sandbox": "sandbox", "real": "kube-apiserver+etcd"}


def _cpu_lines(cluster: str, runs: list[BaselineRun] | list[OperatorRun]) -> None:
    server = SERVER[cluster]
    print(f"  {server} CPU until done: {summary([r.server_cpu for r in runs], 's CPU')}")
    for name in runs[-1].other_cpu:
        values = [r.other_cpu[name] for r in runs]
        print(f"  {name} CPU until done: {summary(values, 's CPU')}")
    if cluster == "real":
        rates = [r.background_cpu for r in runs]
        print(f"  ({server} idle before the clock: {summary(rates, 'CPU s/s')})")


def _by_client(requests: Counter[str], count: int, per: str) -> None:
    print(
        f"  API requests per {per} by client (last run): "
        + ", ".join(f"{client} {n / count:.2f}" for client, n in requests.most_common(8))
    )


def report_baseline(count: int, baselines: list[BaselineRun], cluster: str = "sandbox") -> None:
    print(f"\n== Operator scale ({cluster}): {count} ArchiveSchedules → {count} CronJobs, Ready ==")
    seconds = summary([b.seconds for b in baselines])
    print(f"baseline (POST {count} CronJobs, kubernetes client): {seconds}")
    _cpu_lines(cluster, baselines)
    print(f"  API requests per CronJob (the benchmark's): {baselines[-1].requests / count:.2f}")
    _by_client(baselines[-1].requests_by_agent, count, "CronJob")


def report_floor(
    label: str,
    count: int,
    baselines: list[BaselineRun],
    floors: list[BaselineRun],
    cluster: str = "sandbox",
) -> None:
    pairs = ratios([f.seconds for f in floors], [b.seconds for b in baselines])
    print(f"\n-- {label} (POST {count} ArchiveSchedules, no operator) --")
    print(f"time: {summary([f.seconds for f in floors])}")
    print(
        f"  ratio to the baseline (pairwise): median {median(pairs):.2f}x "
        f"(range {min(pairs):.2f}-{max(pairs):.2f})"
    )
    _cpu_lines(cluster, floors)
    _by_client(floors[-1].requests_by_agent, count, "schedule")


def report_operator(
    label: str,
    count: int,
    baselines: list[BaselineRun],
    operators: list[OperatorRun],
    cluster: str = "sandbox",
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
    _cpu_lines(cluster, operators)
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
    _by_client(last.requests_by_agent, count, "schedule, every client,")
    print("    by verb: " + ", ".join(f"{v} {n / count:.2f}" for v, n in last.verbs.most_common()))
    print("    writes: " + ", ".join(f"{v} {n / count:.2f}" for v, n in last.writes.most_common()))
    print(
        f"  status.coverage written on {last.with_coverage} of {count} schedules (last run): "
        f"{last.coverage_bytes:.0f} bytes of a {last.status_bytes:.0f}-byte status on average"
    )
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
        if r["resume_cpu"] is not None and r["resync_cpu"] is not None:
            print(
                f"  operator CPU: restart (start-up included) {r['resume_cpu']:.2f} s, "
                f"resync round {r['resync_cpu']:.2f} s "
                f"({r['resync_cpu'] / count * 1000:.2f} ms per schedule)"
            )


def report_pair(label: str, count: int, on: list[OperatorRun], off: list[OperatorRun]) -> None:
    """What coverage costs: the operator scenario against the same with coverage off, paired
    by repeat (each ratio: run i with coverage / run i without)."""

    def paired(name: str, values: Callable[[OperatorRun], float]) -> None:
        pairs = ratios([values(a) for a in on], [values(b) for b in off])
        print(
            f"  {name}: median {median(pairs):.2f}x (range {min(pairs):.2f}-{max(pairs):.2f}, "
            f"n={len(pairs)})"
        )

    print(f"\n-- {label}: with coverage / without, pairwise --")
    paired("time to all CronJobs + Ready", lambda r: r.seconds)
    paired("operator CPU until done", lambda r: r.operator_cpu)
    paired("server CPU until done", lambda r: r.server_cpu)

    def ours(run: OperatorRun) -> int:
        return run.requests_by_agent["kopf"] + run.requests_by_agent["operator"]

    a, b = on[-1], off[-1]
    print(
        f"  requests per schedule, creating (last run): {ours(a) / count:.2f} vs "
        f"{ours(b) / count:.2f}; writes {sum(a.writes.values()) / count:.2f} vs "
        f"{sum(b.writes.values()) / count:.2f}"
    )
    if a.resync and b.resync:
        for what in ("resume", "resync"):
            print(
                f"  {what}: {a.resync[what + '_requests']} requests, "
                f"{a.resync[what + '_writes']} writes vs {b.resync[what + '_requests']} "
                f"requests, {b.resync[what + '_writes']} writes"
            )
    rounds = [(x.resync, y.resync) for x, y in zip(on, off, strict=True) if x.resync and y.resync]
    for what in ("resume", "resync"):
        key = f"{what}_cpu"
        both = [(x[key], y[key]) for x, y in rounds if x[key] and y[key]]
        if not both:
            continue
        pairs = [x / y for x, y in both]
        print(
            f"  operator CPU of the {'restart' if what == 'resume' else 'resync round'}: "
            f"{summary([x for x, _ in both], 's')} vs {summary([y for _, y in both], 's')}; "
            f"pairwise {median(pairs):.2f}x (range {min(pairs):.2f}-{max(pairs):.2f}, "
            f"n={len(pairs)})"
        )


def print_profiles(directory: Path) -> None:
    for name in ("sandbox", "operator"):
        if not (directory / f"{name}.txt").exists():
            continue  # no sandbox profile on a real control plane
        print(f"\n-- py-spy profile of the {name} (share of samples: on stack / on top) --")
        for function, inclusive, own in top_functions(directory / f"{name}.txt", limit=40):
            print(f"{inclusive:6.1%} {own:6.1%}  {function}")
