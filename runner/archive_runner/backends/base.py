"""The interface every source and destination implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..window import Window


@dataclass(frozen=True)
class SourceObject:
    """One calendar object from the source: a VCALENDAR holding the components of one UID."""

    href: str  # where it came from: a CalDAV href, or "<feed>#<uid>"
    text: str


@dataclass(frozen=True)
class ArchivedCopy:
    """An object already in the archive."""

    name: str  # resource / file name inside the archive collection or directory
    etag: str | None
    text: str


@dataclass(frozen=True)
class ReadProblem:
    """Part of a read the server did not give: a response of its multistatus that is not a
    2xx with calendar data (e.g. the 507 of a result cut short, a 404 or 500 propstat)."""

    href: str
    http_status: int | None
    message: str  # names the calendar, the href and the server's status


@dataclass(frozen=True)
class SourceRead:
    """What a source read returned: the objects, and what it left out (never silently)."""

    objects: list[SourceObject]
    problems: list[ReadProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ArchiveRead:
    """What an archive read returned: the copies by name, and what it left out."""

    copies: dict[str, ArchivedCopy]
    problems: list[ReadProblem] = field(default_factory=list)


class WriteError(Exception):
    """One object could not be written; the run goes on with the others."""

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class PreconditionFailed(WriteError):
    """A conditional write lost: the object exists (create) or changed since it was read."""


class Source(Protocol):
    description: str  # safe to log: no credentials, no query string

    @property
    def identity(self) -> str:
        """A stable, normalised identity of the source, part of every copy's address."""
        ...

    def fetch(self, window: Window) -> SourceRead:
        """Every object with an event that may fall in the window (a superset is fine), and
        every part of the answer that was not an object (an incomplete read)."""
        ...

    def close(self) -> None: ...


class Destination(Protocol):
    description: str

    def load(self, window: Window) -> ArchiveRead:
        """Copies that may fall in the window, by name (a superset is fine), and every part
        of the answer that was not a copy (an incomplete read)."""
        ...

    def get(self, name: str) -> ArchivedCopy | None: ...

    def create(self, name: str, data: bytes) -> None:
        """Write a new object; PreconditionFailed if it already exists."""
        ...

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        """Replace an object if it is still at ``etag``; PreconditionFailed otherwise. Never
        unconditionally: without ``etag`` a server destination finds the version it read
        first, and refuses the write (WriteError) if it cannot."""
        ...

    def close(self) -> None: ...
