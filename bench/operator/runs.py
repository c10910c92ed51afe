"""One measured run of each kind, each on a fresh cluster: an `archive-sandbox serve` process, or
with ``cluster="real"`` a real control plane (realcluster.py; see scale.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import manifests
from .harness import (
    BENCH_USER_AGENT,
    ClusterLike,
    OperatorProcess,
    ProcStats,
    Profiler,
    SandboxProcess,
    Watcher,
    api_client,
    create_namespace,
    post,
    wait_for_watches,
    wait_until,
)

NAMESPACE = "bench"
SANDBOX_ARGS: tuple[str, ...] = ()
KOPF_AGENT = "kopf/"
KUBE_AGENT = "OpenAPI-Generator/"  # the operator's own calls (kube.py, the `kubernetes` client)
SCHEDULES_PATH = f"/apis/archive.auriora.io/v1alpha1/namespaces/{NAMESPACE}/archiveschedules"
CRONJOBS_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs"
TIMEOUT = 1800.0
QUIET_SECONDS = 3.0
SETTLE_SECONDS = 5.0  # a real control plane's controllers finish their start-up listings


@dataclass
class BaselineRun:
    seconds: float
    server_cpu: float  # the sandbox's, or kube-apiserver's + etcd's CPU seconds until done
    requests: int
    requests_by_agent: Counter[str] = field(default_factory=Counter)
    other_cpu: dict[str, float] = field(default_factory=dict)  # e.g. kube-controller-manager
    background_cpu: float = 0.0  # the server's CPU seconds per second before the clock started


@dataclass
class OperatorRun:
    seconds: float
    settled_seconds: float  # until the operator made no request for QUIET_SECONDS
    apply_seconds: float
    server_cpu: float  # CPU seconds until done (not until quiet), as in BaselineRun
    operator_cpu: float
    peak_rss_kib: int
    requests_by_agent: Counter[str]
    verbs: Counter[str]
    writes: Counter[str]
    other_cpu: dict[str, float] = field(default_factory=dict)
    background_cpu: float = 0.0
    resync: dict[str, Any] = field(default_factory=dict)
    # Schedules whose status has a `coverage` once the operator went quiet, and the mean size of
    # that field and of the whole status (compact JSON bytes).
    with_coverage: int = 0
    coverage_bytes: float = 0.0
    status_bytes: float = 0.0


def _agent(record: dict[str, Any]) -> str:
    """The client that made a request: kopf, the operator's own calls, the benchmark; else (a
    real cluster's controllers, the API server itself) the user name."""
    user_agent = record["user_agent"]
    for prefix, label in (
        (KOPF_AGENT, "kopf"),
        (KUBE_AGENT, "operator"),
        (BENCH_USER_AGENT, "bench"),
    ):
        if user_agent.startswith(prefix):
            return label
    user = str(record.get("user") or "")
    return user.replace("system:serviceaccount:kube-system:", "kcm:") or user_agent or "?"


def _is_operator(record: dict[str, Any]) -> bool:
    return _agent(record) in ("kopf", "operator")


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: ProcStats(pid).cpu_seconds() for name, pid in pids.items()}


def _cpu_used(before: dict[str, float], pids: dict[str, int]) -> dict[str, float]:
    after = _cpu(pids)
    return {name: after[name] - before[name] for name in pids}


def _cpu_breakdown(server: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    """Each process's CPU seconds beside the server's total: the server's parts when it is
    more than one process (kube-apiserver, etcd), then the others (kube-controller-manager)."""
    return {**(server if len(server) > 1 else {}), **other}


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def count_at_least(count: int, ready: bool = False) -> Any:
    def complete(objects: dict[str, dict[str, Any]]) -> bool:
        if ready:
            return sum(1 for o in objects.values() if _ready(o)) >= count
        return len(objects) >= count

    return complete


def start_sandbox(workdir: Path, env: dict[str, str] | None = None) -> tuple[SandboxProcess, Any]:
    sandbox, client = start_cluster("sandbox", workdir, env)
    assert isinstance(sandbox, SandboxProcess)
    return sandbox, client


def start_cluster(
    kind: str, workdir: Path, env: dict[str, str] | None = None
) -> tuple[ClusterLike, Any]:
    """A fresh sandbox (``env``: its environment) or real control plane, with the namespace."""
    if kind == "real":
        from .realcluster import RealClusterProcess  # needs archive_controlplane

        sandbox: ClusterLike = RealClusterProcess(workdir)
    else:
        sandbox = SandboxProcess(workdir, SANDBOX_ARGS, env)
    sandbox.start()
    try:
        client = api_client(sandbox.kubeconfig)
        create_namespace(client, NAMESPACE)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, client


def run_baseline(
    count: int, workdir: Path, sandbox_env: dict[str, str], cluster: str = "sandbox"
) -> BaselineRun:
    """The N CronJobs POSTed one after another; until a watch has seen them all."""
    bodies = manifests.cronjobs(manifests.schedules(count, NAMESPACE), manifests.bench_settings())
    return _post_all(bodies, CRONJOBS_PATH, workdir, sandbox_env, cluster)


def run_floor(
    count: int, workdir: Path, sandbox_env: dict[str, str], cluster: str = "sandbox"
) -> BaselineRun:
    """The N ArchiveSchedules POSTed with no operator running (what the operator scenario's
    own client costs: the CRD's schema and CEL rules); until a watch has seen them all."""
    bodies = manifests.schedules(count, NAMESPACE)
    return _post_all(bodies, SCHEDULES_PATH, workdir, sandbox_env, cluster)


def _post_all(
    bodies: list[dict[str, Any]],
    path: str,
    workdir: Path,
    sandbox_env: dict[str, str],
    cluster: str,
) -> BaselineRun:
    sandbox, client = start_cluster(cluster, workdir, sandbox_env)
    try:
        background = sandbox.settle(SETTLE_SECONDS)  # real: controllers start; sandbox: 0
        watcher = Watcher(sandbox.kubeconfig, path, count_at_least(len(bodies)))
        watcher.start()
        time.sleep(0.5)  # the watch is open before the clock starts
        server_pids, other_pids = sandbox.server_pids(), sandbox.other_pids()
        server_before, other_before = _cpu(server_pids), _cpu(other_pids)
        mark = sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, path, body)
        seconds = watcher.wait(TIMEOUT) - started
        server_used = _cpu_used(server_before, server_pids)
        server_cpu = sum(server_used.values())
        other_cpu = _cpu_breakdown(server_used, _cpu_used(other_before, other_pids))
        records = sandbox.requests_since(mark)
        return BaselineRun(
            seconds=seconds,
            server_cpu=server_cpu,
            requests=sum(1 for r in records if _agent(r) == "bench"),
            requests_by_agent=Counter(_agent(r) for r in records),
            other_cpu=other_cpu,
            background_cpu=background,
        )
    finally:
        sandbox.stop()


def run_operator(
    count: int,
    workdir: Path,
    operator_env: dict[str, str],
    sandbox_env: dict[str, str],
    resync_seconds: float | None = None,
    profile: Path | None = None,
    cluster: str = "sandbox",
) -> OperatorRun:
    """The operator already watching; N schedules POSTed; until all CronJobs exist and all
    schedules are Ready, then until the operator goes quiet."""
    bodies = manifests.schedules(count, NAMESPACE)
    sandbox, client = start_cluster(cluster, workdir, sandbox_env)
    operator = OperatorProcess(sandbox.kubeconfig, workdir / "operator.log", operator_env)
    try:
        background = sandbox.settle(SETTLE_SECONDS)  # real: controllers start; sandbox: 0
        for credentials in manifests.secrets(count, NAMESPACE):  # before, and not measured
            post(client, f"/api/v1/namespaces/{NAMESPACE}/secrets", credentials)
        mark = sandbox.mark()
        operator.start()
        wait_for_watches(sandbox, mark, {"archiveschedules", "cronjobs"}, KOPF_AGENT, 120)
        schedules = Watcher(sandbox.kubeconfig, SCHEDULES_PATH, count_at_least(count, ready=True))
        cronjobs = Watcher(sandbox.kubeconfig, CRONJOBS_PATH, count_at_least(count))
        schedules.start()
        cronjobs.start()
        time.sleep(0.5)
        server_pids, other_pids = sandbox.server_pids(), sandbox.other_pids()
        operator_cpu = ProcStats(operator.pid)
        server_before, other_before = _cpu(server_pids), _cpu(other_pids)
        operator_before = operator_cpu.cpu_seconds()
        profilers = _profilers(profile, server_pids.get("sandbox"), operator.pid)
        mark = sandbox.mark()
        started = time.monotonic()
        for body in bodies:
            post(client, SCHEDULES_PATH, body)
        applied = time.monotonic()
        done = max(schedules.wait(TIMEOUT), cronjobs.wait(TIMEOUT))
        server_used = _cpu_used(server_before, server_pids)
        server_cpu = sum(server_used.values())
        other_cpu = _cpu_breakdown(server_used, _cpu_used(other_before, other_pids))
        operator_used = operator_cpu.cpu_seconds() - operator_before
        for profiler in profilers:
            profiler.stop()
        if not operator.alive():
            raise RuntimeError(f"the operator exited; see {operator.log_path}")
        settled = wait_quiet(sandbox, mark) - started
        records = sandbox.requests_since(mark)
        schedules.stop()
        cronjobs.stop()
        operator_records = [r for r in records if _is_operator(r)]
        run = OperatorRun(
            seconds=done - started,
            settled_seconds=settled,
            apply_seconds=applied - started,
            server_cpu=server_cpu,
            operator_cpu=operator_used,
            peak_rss_kib=operator_cpu.memory_kib("VmHWM"),
            requests_by_agent=Counter(_agent(r) for r in records),
            verbs=Counter(
                f"{r['verb']} {r['resource']}{'/' + r['subresource'] if r['subresource'] else ''}"
                for r in operator_records
            ),
            writes=Counter(r["verb"] for r in operator_records if r["is_write"]),
            other_cpu=other_cpu,
            background_cpu=background,
        )
        _check_same_cronjobs(cronjobs.objects, bodies)
        statuses = [o.get("status") or {} for o in list(schedules.objects.values())]
        covered = [x["coverage"] for x in statuses if x.get("coverage")]
        run.with_coverage = len(covered)
        run.coverage_bytes = sum(map(_json_size, covered)) / max(len(covered), 1)
        run.status_bytes = sum(map(_json_size, statuses)) / max(len(statuses), 1)
        if resync_seconds is not None:
            operator.stop()
            run.resync = measure_noop_resync(sandbox, count, workdir, resync_seconds, operator_env)
        return run
    finally:
        operator.stop()
        sandbox.stop()


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _profilers(
    directory: Path | None, sandbox_pid: int | None, operator_pid: int
) -> list[Profiler]:
    """py-spy of the operator, and of the sandbox (a real API server is not Python: none)."""
    if directory is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    out = [Profiler(operator_pid, directory / "operator.txt")]
    if sandbox_pid is not None:
        out.append(Profiler(sandbox_pid, directory / "sandbox.txt"))
    return out


def wait_quiet(sandbox: ClusterLike, mark: int) -> float:
    """When the operator's last API request was seen, once there has been none for
    `QUIET_SECONDS` (the work it queued, e.g. events about its own writes, is done). On the
    sandbox only the operator makes requests by then: the request log's mark counts them without
    fetching the log. A real cluster's controllers and API server keep making their own, so
    there the operator's are counted in the audit log since ``mark``."""

    def activity() -> int:
        if isinstance(sandbox, SandboxProcess):
            return sandbox.mark()
        return sum(1 for r in sandbox.requests_since(mark) if _is_operator(r))

    last_count, last_change = -1, time.monotonic()
    while True:
        count = activity()
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        elif now - last_change >= QUIET_SECONDS:
            return last_change
        if now - last_change > TIMEOUT:
            raise TimeoutError("the operator never went quiet")
        time.sleep(0.25)


def _check_same_cronjobs(actual: dict[str, dict[str, Any]], bodies: list[dict[str, Any]]) -> None:
    """The baseline must create what the operator creates: compare the specs once."""
    expected = manifests.cronjobs(bodies, manifests.bench_settings())
    for manifest in expected:
        got = actual[manifest["metadata"]["name"]]["spec"]
        want = manifest["spec"]
        if any(got.get(key) != value for key, value in want.items() if key != "jobTemplate"):
            raise AssertionError(f"{manifest['metadata']['name']}: operator {got} != {want}")


def _is_resync_list(record: dict[str, Any]) -> bool:
    """The resync round's first request: the operator's cluster-wide LIST of schedules."""
    return (
        _agent(record) == "operator"
        and record["verb"] == "list"
        and record["resource"] == "archiveschedules"
        and not record["namespace"]
    )


def measure_noop_resync(
    sandbox: ClusterLike,
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
    started = time.monotonic()
    try:
        stats = ProcStats(operator.pid)
        # The restart's reconciles are over when kopf watches and the operator has then been
        # quiet for QUIET_SECONDS (the first resync comes `resync_seconds` after the start): its
        # CPU so far is the restart's (start-up included); what it spends from there to the end
        # of the round, the round's. None if the round began before the restart went quiet.
        wait_for_watches(sandbox, mark, {"archiveschedules", "cronjobs"}, KOPF_AGENT, 120)
        wait_quiet(sandbox, mark)
        resume_cpu: float | None = stats.cpu_seconds()
        if any(_is_resync_list(r) for r in sandbox.requests_since(mark)):
            resume_cpu = None

        def resync_round() -> tuple[int, list[dict[str, Any]]] | None:
            records = sandbox.requests_since(mark)
            starts = [i for i, r in enumerate(records) if _is_resync_list(r)]
            if not starts:
                return None
            after = records[starts[0] :]
            gets = [
                r
                for r in after
                if _agent(r) == "operator"
                and r["verb"] == "get"
                and r["resource"] == "archiveschedules"
            ]
            return (starts[0], records) if len(gets) >= count else None

        start_index, _ = wait_until(resync_round, "one full resync round", TIMEOUT, 0.5)
        round_end = time.monotonic()
        wait_quiet(sandbox, mark)  # the round's last reconcile is done
        round_cpu = stats.cpu_seconds() - resume_cpu if resume_cpu is not None else None
        records = sandbox.requests_since(mark)
        resync_records = [r for r in records[start_index:] if _is_operator(r)]
        resume_records = [r for r in records[:start_index] if _is_operator(r)]
        return {
            "resume_requests": len(resume_records),
            "resume_writes": sum(1 for r in resume_records if r["is_write"]),
            "resync_requests": len(resync_records),
            "resync_writes": sum(1 for r in resync_records if r["is_write"]),
            "resync_verbs": Counter(f"{r['verb']} {r['resource']}" for r in resync_records),
            "seconds_to_round_end": round_end - started,
            "resume_cpu": resume_cpu,
            "resync_cpu": round_cpu,
            "peak_rss_kib": ProcStats(operator.pid).memory_kib("VmHWM"),
        }
    finally:
        operator.stop()
