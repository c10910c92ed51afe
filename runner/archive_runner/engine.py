"""Pure planning: what to write, given the archive items and the copies already archived."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from . import ical
from .backends.base import ArchivedCopy
from .convert import ArchiveItem, in_window
from .window import Window

Decision = Literal["create", "update", "unchanged", "changed_kept"]


@dataclass
class Plan:
    create: list[ArchiveItem] = field(default_factory=list)
    update: list[tuple[ArchiveItem, ArchivedCopy]] = field(default_factory=list)
    unchanged: list[ArchiveItem] = field(default_factory=list)
    changed_kept: list[ArchiveItem] = field(default_factory=list)
    source_missing: list[str] = field(default_factory=list)  # keys of copies gone from source

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update)


def decide(item: ArchiveItem, copy: ArchivedCopy | None, on_change: str) -> Decision:
    if copy is None:
        return "create"
    if ical.archive_markers(copy.text).get(ical.SOURCE_HASH) == item.source_hash:
        return "unchanged"
    return "update" if on_change == "update" else "changed_kept"


def plan(
    items: list[ArchiveItem],
    copies: dict[str, ArchivedCopy],
    window: Window,
    on_change: str,
    source_id: str,
) -> Plan:
    result = Plan()
    for item in items:
        copy = copies.get(item.name)
        decision = decide(item, copy, on_change)
        if decision == "create":
            result.create.append(item)
        elif decision == "update":
            assert copy is not None
            result.update.append((item, copy))
        elif decision == "unchanged":
            result.unchanged.append(item)
        else:
            result.changed_kept.append(item)
    result.source_missing = missing_from_source(items, copies, window, source_id)
    return result


def missing_from_source(
    items: list[ArchiveItem], copies: dict[str, ArchivedCopy], window: Window, source_id: str
) -> list[str]:
    """Keys of this source's copies in the window that the source no longer has there (deleted,
    or moved out of the window). They are reported and kept: the archive never deletes."""
    wanted = {item.name for item in items}
    missing = []
    for name, copy in sorted(copies.items()):
        if name in wanted:
            continue
        markers = ical.archive_markers(copy.text)
        if markers.get(ical.SOURCE_ID) != source_id or not in_window(copy.text, window):
            continue
        key = markers.get(ical.ORIGINAL_UID, name)
        if ical.RECURRENCE_ID in markers:
            key = f"{key} @ {markers[ical.RECURRENCE_ID]}"
        missing.append(key)
    return missing
