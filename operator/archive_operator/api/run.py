"""ArchiveRun: the models of its spec and status (see crds/, the one source of truth)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from .base import Condition, KubeModel, ObjectMeta

RunPhase = Literal[
    "Pending", "Running", "Blocked", "Succeeded", "PartiallySucceeded", "Failed", "Skipped"
]
TERMINAL_PHASES = frozenset({"Succeeded", "PartiallySucceeded", "Failed", "Skipped"})


class ScheduleRef(KubeModel):
    name: str


class ArchiveRunSpec(KubeModel):
    schedule_ref: ScheduleRef
    start: date
    end: date
    trigger: Literal["manual", "backfill", "scheduled", "catchup"] = "manual"
    dry_run: bool = False
    requested_by: str | None = None


class RunError(KubeModel):
    uid: str | None = None
    href: str | None = None
    status: int | None = None
    message: str | None = None


class ArchiveRunStatus(KubeModel):
    observed_generation: int | None = None
    phase: RunPhase | None = None
    reason: str | None = None
    message: str | None = None
    job_name: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    archived: int | None = None
    counts: dict[str, int] | None = None
    errors: list[RunError] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class ArchiveRun(KubeModel):
    metadata: ObjectMeta
    spec: ArchiveRunSpec
    status: ArchiveRunStatus = Field(default_factory=ArchiveRunStatus)

    @property
    def terminal(self) -> bool:
        return self.status.phase in TERMINAL_PHASES

    @classmethod
    def from_body(cls, body: Any) -> ArchiveRun:
        """Parse a kopf Body or a plain dict (pydantic.ValidationError if it does not fit)."""
        return cls.model_validate(
            {
                "metadata": dict(body.get("metadata") or {}),
                "spec": dict(body.get("spec") or {}),
                "status": dict(body.get("status") or {}),
            }
        )
