"""Reading through the run cache (cache.py): a re-run of a window reads only what changed.

CalDAV to CalDAV only: the cache needs both sides' sync tokens. The reads are here; the
decisions and writes are those of every run (run.py, engine.py); after a complete run the
cache is recorded again. Whatever keeps the cache from being used or recorded is said in the
result (``run_cache``), and the run then takes the full path: the cache only ever saves work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import cache
from .backends.base import ArchivedCopy, ReadProblem, SourceObject
from .backends.caldav import (
    ARCHIVE_INCOMPLETE,
    DESTINATION_SETTING,
    SOURCE_INCOMPLETE,
    SOURCE_SETTING,
    CalDavDestination,
    CalDavSource,
    name_of,
    problems_of,
)
from .backends.davsync import (
    Changes,
    changes_since,
    multiget,
    read_ctag,
    read_state,
    write_property,
)
from .backends.http import DEFAULT_CREDENTIALS_HINT
from .convert import ArchiveItem
from .history import version_name
from .result import ObjectError

SOURCE = "source calendar"
ARCHIVE = "archive calendar"

# Source objects (and the archive's copies read so far, for reuse) -> items and errors.
BuiltItems = tuple[list[ArchiveItem], list[ObjectError]]
BuildItems = Callable[[list[SourceObject], dict[str, ArchivedCopy]], BuiltItems]


@dataclass
class Reads:
    """What a run read and derived from it, by either path."""

    objects: list[SourceObject]
    copies: dict[str, ArchivedCopy]
    items: list[ArchiveItem]
    errors: list[ObjectError]
    problems: list[ReadProblem]
    source_token: str | None = None  # the source's sync token from before its objects were read
    # Incremental path only: the cache's copies of the source objects that did not change
    # (not read again; counted as unchanged and carried into the next cache).
    untouched: dict[str, list[str]] = field(default_factory=dict)
    untouched_kept: set[str] = field(default_factory=set)  # of those, copies kept (cache.kept)


@dataclass
class CacheSession:
    """The run cache of one CalDAV run: read at the start, recorded at the end."""

    source: CalDavSource
    destination: CalDavDestination
    scope: str
    key: bytes
    archive_token: str | None  # the archive's sync token at the start
    cached: cache.RunCache | None  # the cache, while it is usable for this run
    read_note: str  # how the run used the cache (result: run_cache.read)
    write_note: str = "not recorded: the run did not complete"  # (result: run_cache.written)
    # Whether the source changed since the cache (then a new cache is recorded even if the run
    # wrote nothing, e.g. under policy keep: else the next run would read the same changes).
    source_changed: bool = True
    # The source's CTag read no later than the source token the next cache will hold (None:
    # not read, or the server gives none; the next re-run then asks for changes).
    source_ctag: str | None = None

    @classmethod
    def open(
        cls, source: CalDavSource, destination: CalDavDestination, scope: str, key: bytes
    ) -> CacheSession:
        state = read_state(
            destination.client, destination.url, ARCHIVE, DESTINATION_SETTING,
            destination.credentials_hint, cache.PROPERTY, destination.retry,
        )  # fmt: skip
        found = cache.decode(state.cache, key)
        cached: cache.RunCache | None = None
        if state.sync_token is None:
            note = "not used: the archive server gives no sync token"
        elif state.cache is None:
            note = "not used: none yet"
        elif found is None:
            note = "not used: unreadable, or not written with this run's credentials"
        elif found.scope != scope:
            note = "not used: made for another window, source, mode or policy"
        elif found.archive_token != state.sync_token:
            note = "not used: the archive changed since it was recorded"
        else:
            cached, note = found, "used"
        return cls(source, destination, scope, key, state.sync_token, cached, note)

    def changes(self) -> Changes | None:
        """What changed at the source since the cache; None: take the full path."""
        if self.cached is None:
            return None
        source = self.source
        if self.cached.source_ctag is not None:
            self.source_ctag = read_ctag(
                source.client, source.url, SOURCE, SOURCE_SETTING, source.retry
            )
            if self.source_ctag == self.cached.source_ctag:
                self.source_changed = False
                return Changes(token=self.cached.source_token)
        found = changes_since(
            source.client, source.url, self.cached.source_token, SOURCE, SOURCE_SETTING,
            source.retry,
        )  # fmt: skip
        if found is None:
            self.cached = None
            self.read_note = "not used: the source no longer knows the cache's sync token"
        else:
            self.source_changed = bool(found.changed or found.deleted)
        return found

    def source_token(self) -> str | None:
        """The source's sync token (and its CTag, from the same PROPFIND), read before its
        objects are, so that a change made during the run is among the next run's changes."""
        source = self.source
        state = read_state(
            source.client, source.url, SOURCE, SOURCE_SETTING, DEFAULT_CREDENTIALS_HINT, None,
            source.retry, with_ctag=True,
        )  # fmt: skip
        self.source_ctag = state.ctag
        return state.sync_token

    def read(self, changes: Changes, build: BuildItems, source_id: str) -> Reads:
        """The incremental reads: the changed source objects (one multiget), then the archive
        copies their items may have (one multiget): O(changes) requests and data."""
        assert self.cached is not None
        touched = set(changes.changed) | set(changes.deleted)
        untouched = {h: names for h, names in self.cached.copies.items() if h not in touched}
        objects: list[SourceObject] = []
        problems: list[ReadProblem] = []
        if changes.changed:
            source = self.source
            found = multiget(
                source.client, source.url, changes.changed, SOURCE, SOURCE_SETTING,
                source.retry,
            )  # fmt: skip
            objects = [SourceObject(href=href, text=data) for href, _, data in found.found]
            problems += problems_of(found, SOURCE, SOURCE_INCOMPLETE)
        items, errors = build(objects, {})
        old = [name for href in touched for name in self.cached.copies.get(href, [])]
        copies: dict[str, ArchivedCopy] = {}
        names = names_to_read(items, old, source_id)
        if names:
            copies, archive_problems = self._copies(names)
            problems += archive_problems
        carried = {name for names in untouched.values() for name in names}
        kept = carried & set(self.cached.kept)
        return Reads(objects, copies, items, errors, problems, changes.token, untouched, kept)

    def _copies(self, names: set[str]) -> tuple[dict[str, ArchivedCopy], list[ReadProblem]]:
        destination = self.destination
        hrefs = [urlsplit(destination.href_of(name)).path for name in sorted(names)]
        found = multiget(
            destination.client, destination.url, hrefs, ARCHIVE, DESTINATION_SETTING,
            destination.retry,
        )  # fmt: skip
        copies = {}
        for href, etag, data in found.found:
            name = name_of(href)
            copies[name] = ArchivedCopy(name=name, etag=etag, text=data)
            destination.remember_read(name, data)
        return copies, problems_of(found, ARCHIVE, ARCHIVE_INCOMPLETE)

    def record(
        self, source_token: str | None, copies: dict[str, list[str]], kept: list[str]
    ) -> None:
        """Record the cache of a complete run, unless the archive changed by more than the
        run's own writes since its token was read (then the next run takes the full path)."""
        if source_token is None or self.archive_token is None:
            self.write_note = "not recorded: a server gives no sync token"
            return
        written = self.destination.written
        cached = self.cached
        same = cached is not None and (copies, kept, self.source_ctag) == (
            cached.copies, cached.kept, cached.source_ctag,
        )  # fmt: skip
        if same and not written and not self.source_changed:
            self.write_note = "unchanged"  # its tokens still hold: the next run reads alike
            return
        token = self.archive_token
        if written:
            destination = self.destination
            found = changes_since(
                destination.client, destination.url, self.archive_token, ARCHIVE,
                DESTINATION_SETTING, destination.retry,
            )  # fmt: skip
            if found is None or not _only(found, written):
                self.write_note = "not recorded: the archive changed during the run"
                return
            token = found.token
        new = cache.RunCache(self.scope, source_token, token, copies, kept, self.source_ctag)
        if new == self.cached:
            self.write_note = "unchanged"
            return
        destination = self.destination
        stored = write_property(
            destination.client, destination.url, cache.PROPERTY, cache.encode(new, self.key),
            ARCHIVE, destination.retry,
        )  # fmt: skip
        self.write_note = "recorded" if stored else "not recorded: the archive refused it"


def names_to_read(items: list[ArchiveItem], old: list[str], source_id: str) -> set[str]:
    """The archive copies an incremental run decides against: each item's, its moved
    version's, and those the changed objects had before (what may now be missing)."""
    names = set(old)
    for item in items:
        names.add(item.name)
        if item.start is not None:
            names.add(version_name(item, source_id))
    return names


def _only(changes: Changes, written: dict[str, str | None]) -> bool:
    """Whether the archive's changes since the run began are exactly the run's own writes:
    nothing else changed or went, and each copy written is there as written (its ETag, when
    the server gave one). A copy the run wrote and someone else then edited is reported under
    the run's own name, so only its ETag tells; one written and then deleted may be in no
    change list at all (RFC 6578 reports the difference of two states; Radicale does list it as
    deleted), hence the presence check too."""
    reported = {name_of(href): etag for href, etag in changes.etags.items()}
    if changes.deleted or set(reported) - set(written):
        return False
    return all(
        name in reported and (etag is None or reported[name] == etag)
        for name, etag in written.items()
    )
