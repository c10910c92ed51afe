"""Pure: the status of a run whose Job is active (Running or Blocked), and the verdict of a run
whose Job ended before its pod ever started (docs/operator.md, "Blocked runs").

A Blocked run keeps its Job and its concurrency slot: the kubelet keeps retrying, so creating
the missing Secret (or fixing the image, or freeing a node) lets the pod start and the run turns
Running. The bound on the wait is the Job's own deadline (spec.runner.activeDeadlineSeconds,
default one hour): Kubernetes then fails the Job with ``DeadlineExceeded``, and the run turns
Failed with the reason it was Blocked for, which says more than the deadline.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from .api.run import ArchiveRunStatus
from .jobs import JobView, Verdict
from .pod_start import blocked

BLOCKED = "Blocked"
DEADLINE_EXCEEDED = "DeadlineExceeded"  # the Job controller's reason for activeDeadlineSeconds


def active_status(status: ArchiveRunStatus, job: JobView, now: datetime) -> ArchiveRunStatus:
    """Running, or Blocked with the pod's reason while its pod cannot start."""
    start = status.start_time or job.start_time or job.created
    why = blocked(job.waiting, now)
    if why is None and status.phase == BLOCKED and job.live_pods == 0:
        # Its pod is gone and no other started: at the deadline the Job controller deletes the
        # pod before it marks the Job Failed (FailureTarget first, Failed once the pod is gone),
        # so this is no recovery; the run stays Blocked until the Job says how it ended.
        return status
    if why is None:
        phase, reason, message = "Running", "JobRunning", f"Job {job.name} is running"
    else:
        phase, reason, message = BLOCKED, why.reason, why.message
    return status.model_copy(
        update={
            "phase": phase,
            "reason": reason,
            "message": message,
            "job_name": job.name,
            "start_time": start,
        }
    )


def never_started(done: Verdict, status: ArchiveRunStatus, job: JobView) -> Verdict:
    """``done``, or, for a Job that hit its deadline while the run was Blocked (its pod never
    ran, so there is no runner result), a failure with the reason it was Blocked for."""
    if status.phase != BLOCKED or done.phase != "Failed" or job.result is not None:
        return done
    if job.failure_reason != DEADLINE_EXCEEDED:
        return done
    message = (
        f"Job {job.name} reached its deadline (activeDeadlineSeconds) before its pod started; "
        f"{status.message or status.reason}"
    )
    return replace(done, reason=status.reason or done.reason, message=message)
