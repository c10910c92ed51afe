"""Pure: what a runner Job and its pods say about a run.

The verdict comes from the Job's terminal condition (Complete / Failed) and the runner's result,
which the runner writes as the termination message of its container (JSON: status, exit_code,
counts, errors, message; docs/runner.md). The result's ``status`` wins over the exit code: a
run the server dropped half-way exits 5 with ``status: partial`` and is PartiallySucceeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archive_runner.contract import ExitCode, scheduled_time_from_job_name

from . import constants as c
from .api.run import RunError
from .pod_start import PodWaiting, newest_waiting, parse_time

Manifest = dict[str, Any]

MAX_ERRORS = 20  # the CRD's status.errors maxItems
MAX_MESSAGE = 1024

# Exit code -> CamelCase reason of a failed run (the runner contract).
EXIT_REASONS = {
    int(ExitCode.CRASHED): "RunnerCrashed",
    int(ExitCode.USAGE): "UsageError",
    int(ExitCode.PARTIAL): "PartialFailure",
    int(ExitCode.BAD_CONFIGURATION): "BadConfiguration",
    int(ExitCode.UNREACHABLE): "ServerUnreachable",
}


@dataclass(frozen=True)
class RunnerResult:
    """The runner's verdict from its container's termination state."""

    exit_code: int | None
    status: str | None = None  # succeeded | partial | failed
    message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: tuple[RunError, ...] = ()


@dataclass(frozen=True)
class JobView:
    name: str
    uid: str
    labels: dict[str, str]
    controller_kind: str | None
    controller_uid: str | None
    created: datetime | None
    suspended: bool
    finished: str | None  # "Complete" | "Failed" | None
    failure_reason: str | None
    failure_message: str | None
    start_time: datetime | None
    completion_time: datetime | None
    scheduled_time: datetime | None
    deleting: bool
    result: RunnerResult | None
    waiting: PodWaiting | None = None  # why its newest pod has not started (pod_start.py)
    live_pods: int = 0  # pods not being deleted

    @property
    def active(self) -> bool:
        """Holds a concurrency slot: not finished, not suspended, not being deleted."""
        return self.finished is None and not self.suspended and not self.deleting


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_result(terminated: Manifest) -> RunnerResult:
    """A terminated container state → the runner's result (the message may be logs or empty)."""
    exit_code = terminated.get("exitCode")
    code = int(exit_code) if isinstance(exit_code, int) else None
    text = str(terminated.get("message") or "").strip()
    data = _result_json(text)
    if not isinstance(data, dict):
        tail = text.splitlines()[-1][:MAX_MESSAGE] if text else None
        return RunnerResult(exit_code=code, message=tail)
    counts = {
        _camel(str(k)): int(v)
        for k, v in (data.get("counts") or {}).items()
        if isinstance(v, int) and not isinstance(v, bool)
    }
    errors = tuple(
        RunError(
            uid=_str(e.get("uid")),
            href=_str(e.get("href")),
            status=e.get("http_status") if isinstance(e.get("http_status"), int) else None,
            message=_str(e.get("message")),
        )
        for e in (data.get("errors") or [])[:MAX_ERRORS]
        if isinstance(e, dict)
    )
    status = data.get("status")
    message = data.get("message")
    return RunnerResult(
        exit_code=code,
        status=str(status) if status else None,
        message=str(message)[:MAX_MESSAGE] if message else None,
        counts=counts,
        errors=errors,
    )


def _result_json(text: str) -> dict[str, Any] | None:
    """The result object: the whole message, or (a log tail, FallbackToLogsOnError) its last
    line that is a JSON object with an exit_code."""
    for line in [text, *reversed(text.splitlines())]:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "exit_code" in data and "status" in data:
            return data
    return None


def _str(value: object) -> str | None:
    return str(value)[:MAX_MESSAGE] if value is not None else None


def _newest_terminated(pods: list[Manifest]) -> Manifest | None:
    """The runner container's terminated state in the newest pod that has one."""

    def created(pod: Manifest) -> str:
        return str(pod.get("metadata", {}).get("creationTimestamp") or "")

    for pod in sorted(pods, key=created, reverse=True):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") != c.RUNNER_CONTAINER:
                continue
            terminated = (status.get("state") or {}).get("terminated")
            if terminated:
                return dict(terminated)
    return None


def _controller(meta: Manifest) -> tuple[str | None, str | None]:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("uid"))
    return None, None


def scheduled_time(job: Manifest) -> datetime | None:
    """When the CronJob meant the Job to run: its annotation, else the name's minute suffix."""
    meta = job.get("metadata") or {}
    found = parse_time((meta.get("annotations") or {}).get(c.ANNOTATION_CRONJOB_SCHEDULED))
    if found is not None:
        return found
    return scheduled_time_from_job_name(str(meta.get("name", "")))


def job_view(job: Manifest, pods: list[Manifest]) -> JobView:
    """Parse a Job and the pods it controls."""
    meta = job.get("metadata") or {}
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    finished = failure_reason = failure_message = None
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            finished = str(condition["type"])
            if finished == "Failed":
                failure_reason = _str(condition.get("reason"))
                failure_message = _str(condition.get("message"))
    kind, uid = _controller(meta)
    terminated = _newest_terminated(pods)
    return JobView(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        labels=dict(meta.get("labels") or {}),
        controller_kind=kind,
        controller_uid=uid,
        created=parse_time(meta.get("creationTimestamp")),
        suspended=bool(spec.get("suspend")),
        finished=finished,
        failure_reason=failure_reason,
        failure_message=failure_message,
        start_time=parse_time(status.get("startTime")),
        completion_time=parse_time(status.get("completionTime")),
        scheduled_time=scheduled_time(job),
        deleting=bool(meta.get("deletionTimestamp")),
        result=parse_result(terminated) if terminated is not None else None,
        waiting=newest_waiting(pods) if finished is None else None,
        live_pods=sum(1 for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")),
    )


def pods_by_job(pods: list[Manifest]) -> dict[str, list[Manifest]]:
    grouped: dict[str, list[Manifest]] = {}
    for pod in pods:
        labels = pod.get("metadata", {}).get("labels") or {}
        name = labels.get(c.LABEL_JOB_NAME) or labels.get("job-name")
        if name:
            grouped.setdefault(str(name), []).append(pod)
    return grouped


@dataclass(frozen=True)
class Verdict:
    """A finished Job's outcome for its run."""

    phase: str  # Succeeded | PartiallySucceeded | Failed
    reason: str
    message: str
    completion_time: datetime | None


def verdict(job: JobView, now: datetime) -> Verdict | None:
    """None while the Job runs; else the run's terminal phase, reason and message."""
    if job.finished is None:
        return None
    result = job.result
    done = job.completion_time or now
    status = result.status if result else None
    if status == "partial":
        failed = (result.counts.get("failed") if result else None) or 0
        message = (result.message if result else None) or f"{failed} events could not be archived"
        return Verdict("PartiallySucceeded", "PartialFailure", message, done)
    if job.finished == "Complete" and status in (None, "succeeded"):
        return Verdict("Succeeded", "Completed", f"Job {job.name} completed", done)
    code = result.exit_code if result else None
    if code is not None and code in EXIT_REASONS:
        reason = EXIT_REASONS[code]
    else:
        reason = job.failure_reason or "JobFailed"
    message = (
        (result.message if result else None)
        or job.failure_message
        or f"Job {job.name} failed" + (f" (runner exit code {code})" if code is not None else "")
    )
    return Verdict("Failed", reason, message, done)
