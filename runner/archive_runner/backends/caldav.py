"""CalDAV source and destination over raw WebDAV (httpx, one keep-alive connection each).

A run makes exactly one calendar-query REPORT per side (with a time range) and then only the
conditional PUTs it needs, which is what keeps a no-change re-run at two requests. The
``caldav`` library is not used here: its discovery and per-object round trips cost requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

import httpx

from .. import ical
from ..errors import AuthError, RetryLaterError, ServerError
from ..redact import redact_url
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
from .http import (
    DEFAULT_CREDENTIALS_HINT,
    RETRYABLE_STATUSES,
    RetryPolicy,
    asked_to_retry,
    check_read,
    send,
)

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
_XML = {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"}
_ICS = "text/calendar; charset=utf-8"
# How a missing or wrong calendar names the setting to fix: the runner's flag and variable, and
# the ArchiveSchedule field they come from (what a user of the operator edits; the operator sets
# the variable from it), as the configuration's own errors do (config.py).
SOURCE_SETTING = "--source-url / ARCHIVE_SOURCE_URL (spec.source.caldav.url)"
DESTINATION_SETTING = "--destination-url / ARCHIVE_DESTINATION_URL (spec.destination.caldav.url)"
# What a 401/403 from the archive asks the user to check.
# What an incomplete read means for each side (ReadProblem.message).
SOURCE_INCOMPLETE = "what the server left out is not archived by this run"
ARCHIVE_INCOMPLETE = "a copy it left out is looked up again before it is written"
_STATUS_LINE = re.compile(r"\s*HTTP/[0-9.]+\s+([0-9]{3})\b\s*(.*)", re.S)
DESTINATION_CREDENTIALS_HINT = (
    "check the archive's credentials in the credentials Secret (destination-username/"
    "destination-password or destination-token; without them, the source's when the archive "
    "has the source's origin)"
)


def calendar_query(start: datetime, end: datetime) -> bytes:
    """A calendar-query REPORT body: every VEVENT object overlapping [start, end)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{_utc(start)}" end="{_utc(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    ).encode()


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Failed:
    """A multistatus response that gave no calendar object: its href, the status that failed
    (None if unreadable or none failed) and that status line's reason phrase."""

    href: str
    status: int | None
    reason: str

    def answer(self) -> str:
        if self.status is None:
            return self.reason or "no calendar data"
        return f"HTTP {self.status} {self.reason}".strip()


@dataclass(frozen=True)
class Multistatus:
    found: list[tuple[str, str | None, str]] = field(default_factory=list)  # href, etag, data
    failed: list[Failed] = field(default_factory=list)


def _status(line: str | None) -> tuple[int | None, str]:
    """The code and reason phrase of a DAV:status line ("HTTP/1.1 507 Insufficient Storage")."""
    match = _STATUS_LINE.match(line or "")
    if match is None:
        return None, (line or "").strip()[:80]
    return int(match.group(1)), match.group(2).strip()[:80]


def same_path(href: str, collection: str) -> bool:
    """Whether ``href`` names the collection itself (servers may list it among its members)."""
    return unquote(urlsplit(href).path).rstrip("/") == unquote(collection).rstrip("/")


def name_of(href: str) -> str:
    """A member's name inside its collection: the last segment of its href, unquoted."""
    return unquote(href.rstrip("/").rsplit("/", 1)[-1])


def parse_multistatus(body: bytes, collection: str = "") -> Multistatus:
    """Every response of a calendar-query's multistatus: (href, etag, calendar-data) for those
    that carry calendar data, and every other one as Failed, because a server that cannot give
    everything says so in the multistatus (RFC 4918 13, RFC 5323 5.2: a 507 for the collection
    when it cut the result short; a 404/500 propstat for an object it could not read).

    A response fails when its own DAV:status is not 2xx, or when no 200 propstat carries
    calendar-data (the status named is that of the propstat holding calendar-data, else of the
    first other one). A 404 for getetag alone next to calendar-data in a 200 is no failure: the
    copy is used without an ETag. ``collection``: the queried collection's path; a response
    for it that is not an error is no object, so it is skipped."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ServerError(f"the server sent an unreadable multistatus: {exc}") from None
    parsed = Multistatus()
    for response in root.iter(f"{DAV}response"):
        href = (response.findtext(f"{DAV}href") or "").strip()
        whole = response.find(f"{DAV}status")  # the status of the whole response
        if whole is not None:
            code, reason = _status(whole.text)
            if code is None or not 200 <= code < 300:
                parsed.failed.append(Failed(href, code, reason))
                continue
        data: str | None = None
        etag: str | None = None
        failing: tuple[int | None, str] | None = None
        for propstat in response.iter(f"{DAV}propstat"):
            code, reason = _status(propstat.findtext(f"{DAV}status"))
            calendar_data = propstat.find(f"{DAV}prop/{CALDAV}calendar-data")
            if code == 200:
                data = data or (calendar_data.text if calendar_data is not None else None)
                etag = etag or propstat.findtext(f"{DAV}prop/{DAV}getetag")
            elif calendar_data is not None or failing is None:
                failing = (code, reason)
        if data:
            parsed.found.append((href, etag.strip() if etag else None, data))
        elif collection and same_path(href, collection):
            continue  # the collection itself, which some servers list: not an object
        else:
            code, reason = failing or (None, "HTTP 200 without calendar data")
            parsed.failed.append(Failed(href, code, reason))
    return parsed


def problems_of(parsed: Multistatus, what: str, consequence: str) -> list[ReadProblem]:
    return [
        ReadProblem(
            href=failed.href,
            http_status=failed.status,
            message=f"the {what}'s answer for {failed.href} was {failed.answer()}: the read is "
            f"incomplete; {consequence}",
        )
        for failed in parsed.failed
    ]


def _collection(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _report(
    client: httpx.Client,
    url: str,
    window: Window,
    what: str,
    setting: str,
    credentials_hint: str = DEFAULT_CREDENTIALS_HINT,
    retry: RetryPolicy | None = None,
) -> Multistatus:
    start, end = window.query_range()
    query = calendar_query(start, end)
    response = send(client, "REPORT", url, what, retry=retry, content=query, headers=_XML)
    check_read(response, what, setting, credentials_hint)
    if response.status_code != 207:
        raise ServerError(
            f"{what} {redact_url(url)} answered HTTP {response.status_code} to a calendar-query, "
            f"not 207; check {setting} points at a calendar collection"
        )
    return parse_multistatus(response.content, urlsplit(url).path)


class CalDavSource:
    def __init__(self, url: str, client: httpx.Client, retry: RetryPolicy | None = None) -> None:
        self.url = _collection(url)
        self.client = client
        self.retry = retry
        self.description = redact_url(self.url)

    @property
    def identity(self) -> str:
        parts = urlsplit(self.url)
        default = {"http": 80, "https": 443}[parts.scheme]
        port = "" if parts.port in (None, default) else f":{parts.port}"
        return (
            f"caldav:{parts.scheme}://{(parts.hostname or '').lower()}{port}{unquote(parts.path)}"
        )

    def fetch(self, window: Window) -> SourceRead:
        what = "source calendar"
        parsed = _report(self.client, self.url, window, what, SOURCE_SETTING, retry=self.retry)
        return SourceRead(
            objects=[SourceObject(href=href, text=data) for href, _, data in parsed.found],
            problems=problems_of(parsed, what, SOURCE_INCOMPLETE),
        )

    def close(self) -> None:
        self.client.close()


class CalDavDestination:
    def __init__(
        self,
        url: str,
        client: httpx.Client,
        credentials_hint: str = DESTINATION_CREDENTIALS_HINT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = _collection(url)
        self.client = client
        self.retry = retry
        self.description = redact_url(self.url)
        self.credentials_hint = credentials_hint  # what a 401/403 asks the user to check
        # The text of each copy as this run last read it: what an update without an ETag must
        # find still there before it may replace it.
        self._read: dict[str, str] = {}
        # The ETag the server gave each copy this run wrote (None: it gave none), by which the
        # run cache tells the run's own writes from anyone else's (incremental.py).
        self.written: dict[str, str | None] = {}

    def href_of(self, name: str) -> str:
        return urljoin(self.url, quote(name))

    def remember_read(self, name: str, text: str) -> None:
        """Note a copy's text as read (by a multiget): an update without an ETag checks it."""
        self._read[name] = text

    def load(self, window: Window) -> ArchiveRead:
        what = "archive calendar"
        parsed = _report(
            self.client,
            self.url,
            window,
            what,
            DESTINATION_SETTING,
            self.credentials_hint,
            retry=self.retry,
        )
        copies = {}
        for href, etag, data in parsed.found:
            name = name_of(href)
            copies[name] = ArchivedCopy(name=name, etag=etag, text=data)
            self._read[name] = data
        return ArchiveRead(copies=copies, problems=problems_of(parsed, what, ARCHIVE_INCOMPLETE))

    def get(self, name: str) -> ArchivedCopy | None:
        copy = self._fetch(name)
        if copy is not None:
            self._read[name] = copy.text
        return copy

    def _fetch(self, name: str) -> ArchivedCopy | None:
        response = send(
            self.client, "GET", self.href_of(name), "archive calendar", retry=self.retry
        )
        if response.status_code == 404:
            return None
        self._check_write(response, name)
        return ArchivedCopy(name=name, etag=response.headers.get("etag"), text=response.text)

    def create(self, name: str, data: bytes) -> None:
        self._put(name, data, {"If-None-Match": "*"})

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        """Replace the copy only if it is the version this run read (If-Match). A copy read
        without an ETag is fetched for one first; a write without If-Match could overwrite a
        change made since the read, so without an ETag it is refused."""
        if etag is None:
            current = self._fetch(name)
            if current is None:  # gone since it was read: put it back, only if still absent
                self.create(name, data)
                return
            read = self._read.get(name)
            if read is not None and ical.content_lines(read) != ical.content_lines(current.text):
                raise PreconditionFailed(
                    f"{name}: changed in the archive since this run read it; not replaced"
                )
            if current.etag is None:
                raise WriteError(
                    f"{name}: the archive gave no ETag for it, so it is not replaced (without "
                    "If-Match a change made to it meanwhile could be lost)"
                )
            etag = current.etag
        self._put(name, data, {"If-Match": etag})

    def _put(self, name: str, data: bytes, condition: dict[str, str]) -> None:
        response = send(
            self.client,
            "PUT",
            self.href_of(name),
            "archive calendar",
            retry=self.retry,
            content=data,
            headers={"Content-Type": _ICS, **condition},
        )
        self._check_write(response, name)
        self.written[name] = response.headers.get("etag")

    def _check_write(self, response: httpx.Response, name: str) -> None:
        status = response.status_code
        if status < 300:
            return
        if status in (401, 403) and "no-uid-conflict" not in response.text:
            raise AuthError(
                f"archive calendar {self.description} refused a write (HTTP {status}); "
                f"{self.credentials_hint}, and their write access"
            )
        if status == 412:
            raise PreconditionFailed(f"{name}: precondition failed (HTTP 412)", status)
        if status in RETRYABLE_STATUSES:
            # "Not now", and send() found no wait that ends before the run's deadline: the
            # other writes would meet the same, so the run stops and the Job retries it.
            raise RetryLaterError(
                f"archive calendar {self.description} answered HTTP {status}"
                f"{asked_to_retry(response)} to {response.request.method} {name}, and no wait "
                "for it could end before the run's deadline (--deadline / "
                "ARCHIVE_DEADLINE_SECONDS); a re-run (the Job's retry) writes what is left"
            )
        reason = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise WriteError(f"{name}: HTTP {status} {reason}".strip(), status)

    def close(self) -> None:
        self.client.close()
