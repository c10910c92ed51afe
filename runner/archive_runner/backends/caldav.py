"""CalDAV source and destination over raw WebDAV (httpx, one keep-alive connection each).

A run makes exactly one calendar-query REPORT per side (with a time range) and then only the
conditional PUTs it needs, which is what keeps a no-change re-run at two requests. The
``caldav`` library is not used here: its discovery and per-object round trips cost requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

import httpx

from ..errors import AuthError, ServerError
from ..redact import redact_url
from ..window import Window
from .base import ArchivedCopy, PreconditionFailed, SourceObject, WriteError
from .http import DEFAULT_CREDENTIALS_HINT, check_read, send

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


def parse_multistatus(body: bytes) -> list[tuple[str, str | None, str]]:
    """(href, etag, calendar-data) for every response that carries calendar data."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ServerError(f"the server sent an unreadable multistatus: {exc}") from None
    found = []
    for response in root.iter(f"{DAV}response"):
        href = (response.findtext(f"{DAV}href") or "").strip()
        for propstat in response.iter(f"{DAV}propstat"):
            status = propstat.findtext(f"{DAV}status") or ""
            if " 200 " not in f"{status} ":
                continue
            data = propstat.findtext(f"{DAV}prop/{CALDAV}calendar-data")
            if data:
                etag = propstat.findtext(f"{DAV}prop/{DAV}getetag")
                found.append((href, etag.strip() if etag else None, data))
    return found


def _collection(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _report(
    client: httpx.Client,
    url: str,
    window: Window,
    what: str,
    setting: str,
    credentials_hint: str = DEFAULT_CREDENTIALS_HINT,
) -> bytes:
    start, end = window.query_range()
    response = send(client, "REPORT", url, what, content=calendar_query(start, end), headers=_XML)
    check_read(response, what, setting, credentials_hint)
    if response.status_code != 207:
        raise ServerError(
            f"{what} {redact_url(url)} answered HTTP {response.status_code} to a calendar-query, "
            f"not 207; check {setting} points at a calendar collection"
        )
    return response.content


class CalDavSource:
    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = _collection(url)
        self.client = client
        self.description = redact_url(self.url)

    @property
    def identity(self) -> str:
        parts = urlsplit(self.url)
        default = {"http": 80, "https": 443}[parts.scheme]
        port = "" if parts.port in (None, default) else f":{parts.port}"
        return (
            f"caldav:{parts.scheme}://{(parts.hostname or '').lower()}{port}{unquote(parts.path)}"
        )

    def fetch(self, window: Window) -> list[SourceObject]:
        body = _report(self.client, self.url, window, "source calendar", SOURCE_SETTING)
        return [SourceObject(href=href, text=data) for href, _, data in parse_multistatus(body)]

    def close(self) -> None:
        self.client.close()


class CalDavDestination:
    def __init__(
        self,
        url: str,
        client: httpx.Client,
        credentials_hint: str = DESTINATION_CREDENTIALS_HINT,
    ) -> None:
        self.url = _collection(url)
        self.client = client
        self.description = redact_url(self.url)
        self.credentials_hint = credentials_hint  # what a 401/403 asks the user to check

    def _href(self, name: str) -> str:
        return urljoin(self.url, quote(name))

    def load(self, window: Window) -> dict[str, ArchivedCopy]:
        body = _report(
            self.client,
            self.url,
            window,
            "archive calendar",
            DESTINATION_SETTING,
            self.credentials_hint,
        )
        copies = {}
        for href, etag, data in parse_multistatus(body):
            name = unquote(href.rstrip("/").rsplit("/", 1)[-1])
            copies[name] = ArchivedCopy(name=name, etag=etag, text=data)
        return copies

    def get(self, name: str) -> ArchivedCopy | None:
        response = send(self.client, "GET", self._href(name), "archive calendar")
        if response.status_code == 404:
            return None
        self._check_write(response, name)
        return ArchivedCopy(name=name, etag=response.headers.get("etag"), text=response.text)

    def create(self, name: str, data: bytes) -> None:
        self._put(name, data, {"If-None-Match": "*"})

    def update(self, name: str, data: bytes, etag: str | None) -> None:
        self._put(name, data, {"If-Match": etag} if etag else {})

    def _put(self, name: str, data: bytes, condition: dict[str, str]) -> None:
        response = send(
            self.client,
            "PUT",
            self._href(name),
            "archive calendar",
            content=data,
            headers={"Content-Type": _ICS, **condition},
        )
        self._check_write(response, name)

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
        reason = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise WriteError(f"{name}: HTTP {status} {reason}".strip(), status)

    def close(self) -> None:
        self.client.close()
