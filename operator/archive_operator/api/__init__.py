"""Pydantic models of the archive.auriora.io resources."""

from .base import Condition, KubeModel, ObjectMeta
from .run import ArchiveRun, ArchiveRunSpec, ArchiveRunStatus
from .schedule import (
    ArchiveSchedule,
    ArchiveScheduleSpec,
    ArchiveScheduleStatus,
    ScheduleEntry,
    ScheduleEntryStatus,
)

__all__ = [
    "ArchiveRun",
    "ArchiveRunSpec",
    "ArchiveRunStatus",
    "ArchiveSchedule",
    "ArchiveScheduleSpec",
    "ArchiveScheduleStatus",
    "Condition",
    "KubeModel",
    "ObjectMeta",
    "ScheduleEntry",
    "ScheduleEntryStatus",
]
