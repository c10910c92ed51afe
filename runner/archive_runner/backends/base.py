"""The interface every source and destination implements."""

from __future__ import annotations

from dataclasses import dataclass
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

    def fetch(self, window: Window) -> list[SourceObject]:
        """Every object with an event that may fall in the window (a superset is fine)."""
        ...

    def close(self) -> None: ...


class Destination(Protocol):
    description: str

    def load(self, window: Window) -> dict[str, ArchivedCopy]:
        """Copies that may fall in the window, by name (a superset is fine)."""
        ...

    def get(self, name: str) -> ArchivedCopy | None: ...

    def create(self, name: str, data: bytes) -> None:
        """Write a new object; PreconditionFailed if it already exists."""
        ...

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        """Replace an object if it is still at ``etag``; PreconditionFailed otherwise."""
        ...

    def close(self) -> None: ...
