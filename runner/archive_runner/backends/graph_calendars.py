"""Microsoft Graph as a source (calendarView) and as an archive (events with extended properties).

Source: one calendarView of the queried range (the window widened as for CalDAV, paged), then
one GET per series whose instances it returned, for the master's recurrence; graph_ical turns
them into the iCalendar objects the engine reads. Attendees are read, never written back.

Archive: each copy is one event of the archive calendar holding, in extended properties, the
copy's name (its identity), hash and full text; a run lists the calendar's events with those
properties once. A copy is created only if no event holds its name (Graph has no conditional
create; ``transactionId`` makes a resent POST not create twice) and updated with If-Match on its
``@odata.etag``. Nothing is ever deleted. No ``attendees`` are written: Graph would invite them.
"""

from __future__ import annotations

from typing import Any

from .. import graph_ical, ical
from ..window import Window
from .base import (
    ArchivedCopy,
    ArchiveRead,
    PreconditionFailed,
    ReadProblem,
    SourceObject,
    SourceRead,
    WriteError,
)
from .graph import _EXPAND, READ_PREFER, GraphSession, graph_error, utc_text
from .http import RETRYABLE_STATUSES

# What the source reads of each event (keeps answers small; the converter needs no more).
SELECT = (
    "id,iCalUId,type,seriesMasterId,originalStart,originalStartTimeZone,subject,body,start,end,"
    "isAllDay,location,organizer,attendees,recurrence,categories,sensitivity,showAs,"
    "isCancelled,lastModifiedDateTime,createdDateTime"
)


class GraphSource:
    def __init__(self, session: GraphSession) -> None:
        self.session = session
        self.description = session.side.url

    @property
    def identity(self) -> str:
        """The calendar as configured (mailbox lower case): renaming the setting from a name to
        an id starts a new set of copies, as moving a CalDAV URL does."""
        side = self.session.side
        return f"graph:{side.endpoint}/users/{side.mailbox.lower()}/{side.calendar or ''}"

    def fetch(self, window: Window) -> SourceRead:
        session = self.session
        calendar = session.calendar_url()
        start, end = window.query_range()
        params = {"startDateTime": utc_text(start), "endDateTime": utc_text(end), "$select": SELECT}
        what = "reading the calendar view"
        instances = [
            e
            for page in session.pages(f"{calendar}/calendarView", what, params=params)
            for e in page
        ]
        singles = [e for e in instances if not e.get("seriesMasterId")]
        series: dict[str, list[dict[str, Any]]] = {}
        for event in instances:
            if event.get("seriesMasterId"):
                series.setdefault(str(event["seriesMasterId"]), []).append(event)
        objects: list[SourceObject] = []
        problems: list[ReadProblem] = []
        for event in singles:
            self._convert(objects, problems, event, lambda e=event: graph_ical.single_object(e))
        for master_id, members in sorted(series.items()):
            master = self._master(master_id)
            if master is None:  # deleted since the view was read: the next run archives it
                problems.append(self._problem(master_id, "its series master is gone"))
                continue
            self._convert(
                objects,
                problems,
                master,
                lambda m=master, i=members: graph_ical.series_object(m, i, start, end),
            )
        return SourceRead(objects=objects, problems=problems)

    def _master(self, master_id: str) -> dict[str, Any] | None:
        session = self.session
        what = "reading a series master"
        response = session.request(
            "GET",
            f"{session.user}/events/{master_id}",
            what,
            params={"$select": SELECT},
            headers={"Prefer": ", ".join(READ_PREFER)},
        )
        if response.status_code == 404:
            return None
        session.check(response, what)
        master: dict[str, Any] = response.json()
        return master

    def _convert(
        self,
        objects: list[SourceObject],
        problems: list[ReadProblem],
        event: dict[str, Any],
        convert: Any,
    ) -> None:
        try:
            objects.append(SourceObject(href=f"{self.description}#{event['id']}", text=convert()))
        except (ValueError, KeyError, TypeError) as exc:  # one unreadable event: not the others
            problems.append(self._problem(str(event.get("id")), f"{type(exc).__name__}: {exc}"))

    def _problem(self, event_id: str, why: str) -> ReadProblem:
        return ReadProblem(
            href=f"{self.description}#{event_id}",
            http_status=None,
            message=f"the source calendar's event {event_id} cannot be archived ({why}); "
            "what the read left out is not archived by this run",
        )

    def close(self) -> None:
        self.session.close()


class GraphDestination:
    def __init__(self, session: GraphSession, default_zone: str) -> None:
        self.session = session
        self.default_zone = default_zone  # where floating times and dates are placed
        self.description = session.side.url
        self._calendar: str | None = None
        self._ids: dict[str, str] = {}  # copy name -> Graph event id
        self._read: dict[str, str] = {}  # copy name -> text as read (an update checks it)

    def calendar(self) -> str:
        if self._calendar is None:
            self._calendar = self.session.calendar_url()
        return self._calendar

    def load(self, window: Window) -> ArchiveRead:
        """Every copy in the archive calendar (a superset of the window, like a directory)."""
        copies: dict[str, ArchivedCopy] = {}
        params = {"$select": "id", "$expand": _EXPAND}
        for page in self.session.pages(
            f"{self.calendar()}/events", "reading the archive", params=params
        ):
            for event in page:
                copy = self._remember(event)
                if copy is not None and copy.name not in copies:
                    copies[copy.name] = copy
        return ArchiveRead(copies=copies)

    def _remember(self, event: dict[str, Any]) -> ArchivedCopy | None:
        held = graph_ical.copy_of(event)
        if held is None:
            return None  # not one of the archive's copies: never touched
        name, text = held
        self._ids.setdefault(name, str(event["id"]))
        self._read.setdefault(name, text)
        return ArchivedCopy(name=name, etag=event.get("@odata.etag"), text=text)

    def get(self, name: str) -> ArchivedCopy | None:
        session = self.session
        what = "reading an archive copy"
        if name in self._ids:
            response = session.request(
                "GET", f"{session.user}/events/{self._ids[name]}", what, params={"$expand": _EXPAND}
            )
            if response.status_code == 404:
                return None
            session.check(response, what)
            events = [response.json()]
        else:  # written since the load (a concurrent run): found by its name
            found = (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{graph_ical.PROP_NAME}' and "
                f"ep/value eq '{name}')"
            )
            params = {"$filter": found, "$expand": _EXPAND}
            events = [
                e
                for p in session.pages(f"{self.calendar()}/events", what, params=params)
                for e in p
            ]
        for event in events:
            self._ids.pop(name, None)
            self._read.pop(name, None)
            copy = self._remember(event)
            if copy is not None and copy.name == name:
                return copy
        return None

    def create(self, name: str, data: bytes) -> None:
        if name in self._ids:  # Graph has no If-None-Match: the name is taken
            raise PreconditionFailed(f"{name} already exists")
        text = data.decode()
        body = self._event(name, text)
        # A POST resent after a lost answer must not create a second event.
        body["transactionId"] = ical.digest(name, text)
        what = f"creating {name}"
        response = self.session.request("POST", f"{self.calendar()}/events", what, json=body)
        self._check_write(response, name, what)
        self._ids[name] = str(response.json()["id"])
        self._read[name] = text

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        """Replace the copy only if it is the version this run read (If-Match on its etag);
        without one, only if its text is still what was read."""
        if name not in self._ids or etag is None:
            read = self._read.get(name)
            current = self.get(name)
            if current is None:
                self.create(name, data)
                return
            if read is not None and ical.content_lines(read) != ical.content_lines(current.text):
                raise PreconditionFailed(f"{name}: changed in the archive since this run read it")
            etag = current.etag
        if etag is None:
            raise WriteError(f"{name}: the archive gave no etag for it, so it is not replaced")
        text = data.decode()
        what = f"updating {name}"
        response = self.session.request(
            "PATCH",
            f"{self.session.user}/events/{self._ids[name]}",
            what,
            json=self._event(name, text),
            headers={"If-Match": etag},
        )
        self._check_write(response, name, what)
        self._read[name] = text

    def _event(self, name: str, text: str) -> dict[str, Any]:
        source_hash = ical.archive_markers(text).get(ical.SOURCE_HASH, "")
        try:
            return graph_ical.graph_event(text, name, source_hash, self.default_zone)
        except (ValueError, KeyError) as exc:
            raise WriteError(f"{name}: cannot be written to Microsoft Graph ({exc})") from None

    def _check_write(self, response: Any, name: str, what: str) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 412:
            raise PreconditionFailed(
                f"{name}: changed in the archive since it was read (HTTP 412)", 412
            )
        if status in (401, 403, 404) or status in RETRYABLE_STATUSES:
            self.session.check(response, what, write=True)  # ends the run (exit 4 or 5)
        raise WriteError(f"{name}: HTTP {status} {graph_error(response)}".strip(), status)

    def close(self) -> None:
        self.session.close()
