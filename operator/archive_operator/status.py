"""Pure status computation for an ArchiveSchedule.

The Reconciler owns observedGeneration, the Ready condition, schedules[], schedulesSummary and
nextRunTime; the run lifecycle (runs.py) adds the run fields and the Healthy condition, and the
two are written as one patch. A status write happens only when one of the owned fields
changes, and a condition's lastTransitionTime only changes when its status does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .api.base import Condition, ConditionStatus
from .api.schedule import ArchiveSchedule, ArchiveScheduleStatus, ScheduleEntryStatus
from .render import Resolved
from .schedule import next_run

READY = "Ready"
OWNED_FIELDS = (
    "observedGeneration",
    "conditions",
    "schedules",
    "schedulesSummary",
    "nextRunTime",
    # Written by the run lifecycle (runs.py), patched together with the fields above.
    "lastScheduleTime",
    "lastSuccessfulTime",
    "lastFailureTime",
    "consecutiveFailures",
    "activeRuns",
    "lastRun",
    # Written by the missed-run check (missed.py, through run_wing.py).
    "missedRuns",
    "lastMissedTime",
    "consecutiveMissed",
    # Written by the coverage decision (coverage.py, through run_wing.py).
    "coverage",
)


@dataclass(frozen=True)
class ReadyState:
    status: ConditionStatus
    reason: str
    message: str


def truncate(now: datetime) -> datetime:
    """Kubernetes times have whole seconds."""
    return now.astimezone(UTC).replace(microsecond=0)


def set_condition(
    conditions: list[Condition], type_: str, state: ReadyState, generation: int, now: datetime
) -> list[Condition]:
    """Replace (or add) the condition of ``type_``, keeping the others in place."""
    old = next((c for c in conditions if c.type == type_), None)
    transition = old.last_transition_time if old and old.status == state.status else truncate(now)
    new = Condition(
        type=type_,
        status=state.status,
        reason=state.reason,
        message=state.message,
        last_transition_time=transition,
        observed_generation=generation,
    )
    if old is None:
        return [*conditions, new]
    return [new if c.type == type_ else c for c in conditions]


def entry_statuses(
    schedule: ArchiveSchedule, resolved: Resolved, now: datetime
) -> list[ScheduleEntryStatus]:
    # The missed-run watermark is carried over; the run lifecycle moves it (missed.py).
    checked = {e.name: e.last_checked_time for e in schedule.status.schedules}
    statuses = []
    for item in resolved.entries:
        upcoming = None
        if not schedule.spec.suspend:
            found = next_run(item.parsed, now, resolved.time_zone)
            upcoming = found.astimezone(UTC) if found else None
        statuses.append(
            ScheduleEntryStatus(
                name=item.entry.name,
                cron_job_name=item.cronjob_name,
                cron=item.cron,
                next_run_time=upcoming,
                last_checked_time=checked.get(item.entry.name),
            )
        )
    return statuses


def summary(schedule: ArchiveSchedule) -> str:
    if not schedule.spec.schedules:
        return "none (manual runs only)"
    parts = []
    for entry in schedule.spec.schedules:
        jitter = (
            f" (+0-{entry.jitter_minutes}m)"
            if entry.jitter_minutes and entry.kind != "cron"
            else ""
        )
        parts.append(f"{entry.name}={entry.describe()}{jitter}")
    return ", ".join(parts)


def ready_message(schedule: ArchiveSchedule) -> str:
    count = len(schedule.spec.schedules)
    if count == 0:
        return "No schedule entries: only manual runs and backfills"
    noun = "CronJob matches" if count == 1 else "CronJobs match"
    suffix = " (suspended)" if schedule.spec.suspend else ""
    return f"{count} {noun} the spec{suffix}"


def reconciled_status(
    schedule: ArchiveSchedule, resolved: Resolved, now: datetime
) -> ArchiveScheduleStatus:
    """The status after the CronJobs were brought in line with the spec."""
    state = ReadyState("True", "Reconciled", ready_message(schedule))
    entries = entry_statuses(schedule, resolved, now)
    upcoming = [e.next_run_time for e in entries if e.next_run_time is not None]
    return schedule.status.model_copy(
        update={
            "observed_generation": schedule.metadata.generation,
            "conditions": set_condition(
                schedule.status.conditions, READY, state, schedule.metadata.generation, now
            ),
            "schedules": entries,
            "schedules_summary": summary(schedule),
            "next_run_time": min(upcoming) if upcoming else None,
        }
    )


def failed_status(
    current: ArchiveScheduleStatus, generation: int, reason: str, message: str, now: datetime
) -> ArchiveScheduleStatus:
    """Ready=False; the per-entry fields keep describing the CronJobs as they still are."""
    state = ReadyState("False", reason, message)
    return current.model_copy(
        update={
            "observed_generation": generation,
            "conditions": set_condition(current.conditions, READY, state, generation, now),
        }
    )


def status_patch(current: ArchiveScheduleStatus, new: ArchiveScheduleStatus) -> dict[str, Any]:
    """A JSON merge patch of the owned fields that changed ({} when none did)."""
    old_wire, new_wire = _owned(current), _owned(new)
    return {
        key: _merge_value(old_wire.get(key), new_wire.get(key))
        for key in OWNED_FIELDS
        if old_wire.get(key) != new_wire.get(key)
    }


def _merge_value(old: Any, new: Any) -> Any:
    """``new`` as a merge-patch value over ``old``: None deletes; an object patches the old
    one key by key, so a key it no longer has must be sent as None to be deleted."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {
            key: _merge_value(old.get(key), new.get(key))
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        }
    return new


def _owned(status: ArchiveScheduleStatus) -> dict[str, Any]:
    wire = status.to_kube()
    return {key: wire[key] for key in OWNED_FIELDS if key in wire and wire[key] != []}


def ready_changed(current: ArchiveScheduleStatus, new: ArchiveScheduleStatus) -> bool:
    """Whether the Ready condition's status, reason or message changed (worth an Event)."""
    old, now = current.condition(READY), new.condition(READY)
    if now is None:
        return False
    return old is None or (old.status, old.reason, old.message) != (
        now.status,
        now.reason,
        now.message,
    )
