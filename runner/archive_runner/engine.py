"""Pure planning: what to write, given the archive items and the copies already archived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from . import ical
from .backends.base import ArchivedCopy
from .convert import ArchiveItem, copy_start, in_window
from .history import moved_version, preserve_past, version_name
from .window import Window

Decision = Literal["create", "update", "unchanged", "changed_kept"]


@dataclass(frozen=True)
class Rules:
    """What every decision of a run depends on besides the item and its copy."""

    window: Window
    on_change: str  # "keep" or "update"
    source_id: str
    now: datetime  # the run's time: occurrences outside the window begun by then are past


@dataclass(frozen=True)
class Step:
    decision: Decision
    item: ArchiveItem
    copy: ArchivedCopy | None = None  # the copy an update replaces


@dataclass(frozen=True)
class Lookup:
    """Another item to decide against the copy at its own name (a moved occurrence's version,
    an occurrence a series update refreshes)."""

    item: ArchiveItem


@dataclass
class Plan:
    # The writes, by source item: a group's writes are made in order, and a group stops at
    # its first failure (a series is updated only once the past it changes is kept apart).
    groups: list[list[Step]] = field(default_factory=list)
    unchanged: list[ArchiveItem] = field(default_factory=list)
    changed_kept: list[ArchiveItem] = field(default_factory=list)
    source_missing: list[str] = field(default_factory=list)  # keys of copies gone from source
    # (source href, copy name) of each item's own copy (itself, or its moved version): the
    # copies the source has in the window now, what a run cache records.
    resolved: list[tuple[str, str]] = field(default_factory=list)

    @property
    def create(self) -> list[ArchiveItem]:
        return [s.item for group in self.groups for s in group if s.decision == "create"]

    @property
    def update(self) -> list[tuple[ArchiveItem, ArchivedCopy]]:
        return [
            (s.item, s.copy)
            for group in self.groups
            for s in group
            if s.decision == "update" and s.copy is not None
        ]

    @property
    def writes(self) -> int:
        return sum(len(group) for group in self.groups)


def decide(item: ArchiveItem, copy: ArchivedCopy | None, rules: Rules) -> list[Step | Lookup]:
    """What to do with ``item``, given the copy at its name. Nothing outside the run's window
    is altered or removed (history.py): a moved occurrence becomes a version (a Lookup of its
    own name), a series update first keeps its changed past apart."""
    if copy is None:
        return [Step("create", item)]
    if ical.archive_markers(copy.text).get(ical.SOURCE_HASH) == item.source_hash:
        return [Step("unchanged", item)]
    if item.start is not None and copy_start(copy.text) not in (None, item.start):
        return [Lookup(moved_version(item, rules.source_id))]
    if rules.on_change != "update" or item.history:
        return [Step("changed_kept", item)]
    if not item.series:
        return [Step("update", item, copy)]
    update = preserve_past(copy.text, item, rules.window, rules.now, rules.source_id)
    if update is None:
        return [Step("changed_kept", item)]
    # The past first: if keeping it fails, the series is not updated (Plan.groups).
    return [
        *(Lookup(kept) for kept in update.kept),
        *(Lookup(refreshed) for refreshed in update.refreshed),
        Step("update", update.series, copy),
    ]


def plan(items: list[ArchiveItem], copies: Mapping[str, ArchivedCopy], rules: Rules) -> Plan:
    result = Plan()
    decided: set[str] = set()
    for item in items:
        group: list[Step] = []
        pending: list[Step | Lookup] = [Lookup(item)]  # a stack
        while pending:
            next_one = pending.pop()
            if isinstance(next_one, Lookup):
                found = copies.get(next_one.item.name)
                if found is None and _has_version(next_one.item, copies, rules.source_id):
                    # Its first copy is outside the query's range, with another start.
                    pending.append(Lookup(moved_version(next_one.item, rules.source_id)))
                    continue
                pending.extend(reversed(decide(next_one.item, found, rules)))
                continue
            decided.add(next_one.item.name)
            if _resolves(next_one.item, item):
                result.resolved.append((item.source_href, next_one.item.name))
            if next_one.decision == "unchanged":
                result.unchanged.append(next_one.item)
            elif next_one.decision == "changed_kept":
                result.changed_kept.append(next_one.item)
            else:
                group.append(next_one)
        if group:
            result.groups.append(group)
    result.source_missing = missing_from_source(decided, copies, rules.window, rules.source_id)
    return result


def _resolves(step_item: ArchiveItem, item: ArchiveItem) -> bool:
    """Whether a step is the item's own copy (itself, or its moved version), not a copy made
    to keep or refresh an occurrence of its series."""
    same = (step_item.original_uid, step_item.recurrence_id) == (
        item.original_uid,
        item.recurrence_id,
    )
    return same and not step_item.history


def _has_version(item: ArchiveItem, copies: Mapping[str, ArchivedCopy], source_id: str) -> bool:
    return item.start is not None and version_name(item, source_id) in copies


def missing_from_source(
    wanted: set[str], copies: Mapping[str, ArchivedCopy], window: Window, source_id: str
) -> list[str]:
    """Keys of this source's copies in the window that the source no longer has there (deleted,
    moved out of the window, or moved within it: its earlier version), ``wanted`` being the
    names of the copies the source has now. They are reported and kept: the archive never
    deletes."""
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
