"""The stand-in's state: tenants, app registrations, tokens, mailboxes, calendars, events.

No HTTP here. One lock guards everything; callers hold `store.lock` around compound operations.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from . import timezones as tz

Event = dict[str, Any]


class NotFound(LookupError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


ITEM_NOT_FOUND = ("ErrorItemNotFound", "The specified object was not found in the store.")


def item_not_found() -> NotFound:
    return NotFound(*ITEM_NOT_FOUND)


@dataclass
class App:
    tenant: str
    client_id: str
    secret: str | None
    certificate_pems: list[bytes]
    roles: tuple[str, ...]


@dataclass
class Token:
    tenant: str
    client_id: str
    roles: tuple[str, ...]
    expires_at: float


@dataclass
class Calendar:
    id: str
    name: str
    is_default: bool
    change_key: str = field(default_factory=ev.new_change_key)


@dataclass
class Mailbox:
    tenant: str
    id: str
    upn: str
    calendars: dict[str, Calendar] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return self.upn.split("@")[0].replace(".", " ").title()

    def default_calendar(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.is_default)


@dataclass
class Series:
    """What a master carries besides its own record: exceptions and cancelled occurrences."""

    exceptions: dict[dt.datetime, str] = field(default_factory=dict)  # originalStart -> event id
    cancelled: set[dt.datetime] = field(default_factory=set)


@dataclass
class Stored:
    mailbox: Mailbox
    calendar_id: str
    record: Event
    series: Series = field(default_factory=Series)


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: set[str] = set()
        self.apps: dict[tuple[str, str], App] = {}
        self.tokens: dict[str, Token] = {}
        self.mailboxes: dict[str, Mailbox] = {}  # by id
        self.events: dict[str, Stored] = {}  # masters, single instances, exceptions
        self.occurrences: dict[str, tuple[str, dt.datetime]] = {}  # id -> (master id, start)
        self.delta_states: dict[str, dict[str, Any]] = {}
        self.tokens_issued = 0

    # --- directory -------------------------------------------------------------------------
    def add_app(self, app: App) -> None:
        with self.lock:
            self.tenants.add(app.tenant)
            self.apps[(app.tenant, app.client_id)] = app

    def add_mailbox(self, tenant: str, upn: str) -> Mailbox:
        with self.lock:
            self.tenants.add(tenant)
            box = Mailbox(tenant, str(uuid.uuid4()), upn)
            cal = Calendar(ev.new_id(), "Calendar", True)
            box.calendars[cal.id] = cal
            self.mailboxes[box.id] = box
            return box

    def mailbox(self, tenant: str, key: str) -> Mailbox:
        with self.lock:
            for box in self.mailboxes.values():
                if box.tenant == tenant and (
                    box.id == key.lower() or box.upn.lower() == key.lower()
                ):
                    return box
        raise NotFound("ErrorInvalidUser", f"The requested user '{key}' is invalid.")

    def calendar(self, box: Mailbox, cal_id: str | None) -> Calendar:
        if cal_id is None:
            return box.default_calendar()
        cal = box.calendars.get(cal_id)
        if cal is None:
            raise item_not_found()
        return cal

    def add_calendar(self, box: Mailbox, name: str) -> Calendar:
        with self.lock:
            cal = Calendar(ev.new_id(), name, False)
            box.calendars[cal.id] = cal
            return cal

    # --- tokens ------------------------------------------------------------------------------
    def issue_token(self, app: App, lifetime: int) -> str:
        with self.lock:
            token = secrets.token_urlsafe(48)
            self.tokens[token] = Token(app.tenant, app.client_id, app.roles, time.time() + lifetime)
            self.tokens_issued += 1
            return token

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = 0.0

    # --- events --------------------------------------------------------------------------
    def add_event(self, box: Mailbox, cal: Calendar, body: Event) -> Event:
        with self.lock:
            record = ev.create(body, {"name": box.display_name, "address": box.upn})
            self.events[record["id"]] = Stored(box, cal.id, record)
            return record

    def find(self, box: Mailbox, event_id: str) -> tuple[str, Stored, dt.datetime | None]:
        """('stored', the record's holder, None) or ('occurrence', its master's, originalStart)."""
        with self.lock:
            stored = self.events.get(event_id)
            if stored is not None and stored.mailbox is box:
                return "stored", stored, None
            if event_id in self.occurrences:
                master_id, start = self.occurrences[event_id]
                master = self.events.get(master_id)
                if master is not None and master.mailbox is box and self._is_live(master, start):
                    return "occurrence", master, start
        raise item_not_found()

    def _is_live(self, master: Stored, original_start: dt.datetime) -> bool:
        if original_start in master.series.cancelled or original_start in master.series.exceptions:
            return False
        window_end = original_start + dt.timedelta(seconds=1)
        return any(o[0] == original_start for o in ev.occurrences(master.record, window_end))

    def occurrence_record(self, master: Stored, original_start: dt.datetime) -> Event:
        for orig, start, end in ev.occurrences(master.record, original_start + dt.timedelta(1)):
            if orig == original_start:
                occ = ev.make_occurrence(master.record, orig, start, end)
                self.occurrences[occ["id"]] = (master.record["id"], orig)
                return occ
        raise item_not_found()

    def make_exception(self, master: Stored, original_start: dt.datetime, body: Event) -> Event:
        """An occurrence PATCHed: it becomes an exception with the occurrence's id."""
        with self.lock:
            if not self._is_live(master, original_start):
                raise item_not_found()
            record = self.occurrence_record(master, original_start)
            record["type"] = "exception"
            ev.patch(record, body)
            self.events[record["id"]] = Stored(master.mailbox, master.calendar_id, record)
            master.series.exceptions[original_start] = record["id"]
            return record

    def cancel_occurrence(self, master: Stored, original_start: dt.datetime) -> None:
        with self.lock:
            exc_id = master.series.exceptions.pop(original_start, None)
            if exc_id is not None:
                self.events.pop(exc_id, None)
            master.series.cancelled.add(original_start)

    def update(self, stored: Stored, body: Event) -> Event:
        with self.lock:
            if ev.patch(stored.record, body):
                self._drop_exceptions(stored)
            return stored.record

    def _drop_exceptions(self, master: Stored) -> None:
        for exc_id in master.series.exceptions.values():
            self.events.pop(exc_id, None)
        master.series = Series()

    def delete(self, stored: Stored) -> None:
        with self.lock:
            record = stored.record
            if record.get("type") == "exception":
                master = self.events.get(record["seriesMasterId"])
                orig, _ = tz.parse_datetime(record["originalStart"])
                if master is not None:
                    self.cancel_occurrence(master, orig.astimezone(dt.UTC))
                return
            self._drop_exceptions(stored)
            self.events.pop(record["id"], None)

    # --- views ---------------------------------------------------------------------------
    def in_calendar(self, box: Mailbox, cal: Calendar) -> list[Stored]:
        with self.lock:
            return [s for s in self.events.values() if s.mailbox is box and s.calendar_id == cal.id]

    def view(
        self, box: Mailbox, cal: Calendar, start: dt.datetime, end: dt.datetime, zone: str | None
    ) -> list[Event]:
        """calendarView: single instances, occurrences and exceptions overlapping [start, end),
        sorted by start, then end, then id."""
        with self.lock:
            found: list[tuple[dt.datetime, dt.datetime, Event]] = []
            for stored in self.in_calendar(box, cal):
                found += self._overlapping(stored, start, end, zone)
            found.sort(key=lambda t: (t[0], t[1], t[2]["id"]))
            return [t[2] for t in found]

    def instances(
        self, master: Stored, start: dt.datetime, end: dt.datetime, zone: str | None
    ) -> list[Event]:
        with self.lock:
            found = self._overlapping(master, start, end, zone)
            for exc_id in master.series.exceptions.values():
                found += self._overlapping(self.events[exc_id], start, end, zone)
            found.sort(key=lambda t: (t[0], t[1], t[2]["id"]))
            return [t[2] for t in found]

    def _overlapping(
        self, stored: Stored, start: dt.datetime, end: dt.datetime, zone: str | None
    ) -> list[tuple[dt.datetime, dt.datetime, Event]]:
        record = stored.record
        if record.get("type") != "seriesMaster":
            if record.get("isAllDay"):
                s, e = ev.all_day_span(record, zone)
            else:
                s, e = ev.span_utc(record)
            return [(s, e, record)] if e > start and s < end else []
        out = []
        for orig, s, e in ev.occurrences(record, end):
            if orig in stored.series.cancelled or orig in stored.series.exceptions:
                continue
            if e > start and s < end:
                occ = ev.make_occurrence(record, orig, s, e)
                self.occurrences[occ["id"]] = (record["id"], orig)
                out.append((s, e, occ))
        return out
