"""A proxy in front of the real Radicale that misbehaves on cue, as real servers do.

Each request is decided by a rule, ``rule(method, path, index) -> Action`` (``index``: the
request's position among every request the proxy saw, from 0), so a test says exactly which
request meets which trouble, with no timing and no mock of the runner:

- :data:`FORWARD`: pass it to Radicale and its answer back;
- :class:`Answer`: answer a status (429, 503, 507 ... with or without Retry-After) itself;
- :class:`Forward` with an ``edit``: Radicale's answer, changed (:func:`truncated`: a
  multistatus cut after N responses with a 507 for the collection, as RFC 4918/5323 servers
  do; :func:`failed_propstat`: one response's propstat turned into 404/500;
  :func:`without_etags`: no getetag, no ETag header; :func:`without_ctag`: no getctag);
- :data:`DROP`: close the connection without answering (a server that went away).

``proxy.seen`` records every request: method, path, the status answered (None if dropped),
its request headers and when it arrived.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}
DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CTAG = "{http://calendarserver.org/ns/}"
ElementTree.register_namespace("D", "DAV:")
ElementTree.register_namespace("C", "urn:ietf:params:xml:ns:caldav")

# An edit of a forwarded answer: (request path, status, headers, body) -> the same, changed.
Edit = Callable[[str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class Forward:
    edit: Edit | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Drop:
    pass


Action = Forward | Answer | Drop
Rule = Callable[[str, str, int], Action]
FORWARD = Forward()
DROP = Drop()


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int | None  # None: dropped without an answer
    headers: dict[str, str]  # the request's, names in lower case
    at: float  # time.monotonic() when it arrived
    calendar_data: bool = False  # whether the answer carried any iCalendar data


def forward_all(method: str, path: str, index: int) -> Action:
    return FORWARD


def nth(method: str, numbers: set[int] | range, action: Action, path: str = "") -> Rule:
    """``action`` for the requests of ``method`` (whose path contains ``path``) numbered
    ``numbers`` (1 = the first such request); every other request is forwarded."""
    count = 0

    def rule(seen_method: str, seen_path: str, index: int) -> Action:
        nonlocal count
        if seen_method != method or path not in seen_path:
            return FORWARD
        count += 1
        return action if count in numbers else FORWARD

    return rule


def every(method: str, action: Action, path: str = "") -> Rule:
    """``action`` for every request of ``method`` whose path contains ``path``."""
    return lambda m, p, i: action if m == method and path in p else FORWARD


# --- edits of a forwarded multistatus -------------------------------------------------------


def _multistatus(body: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(body)


def _serialise(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def truncated(keep: int) -> Forward:
    """Keep the first ``keep`` responses and add one for the collection (the request's path)
    with ``507 Insufficient Storage``: how a server says it cut the result short."""

    def edit(
        path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        root = _multistatus(body)
        for extra in root.findall(f"{DAV}response")[keep:]:
            root.remove(extra)
        marker = ElementTree.SubElement(root, f"{DAV}response")
        ElementTree.SubElement(marker, f"{DAV}href").text = path
        ElementTree.SubElement(marker, f"{DAV}status").text = "HTTP/1.1 507 Insufficient Storage"
        return status, headers, _serialise(root)

    return Forward(edit)


def failed_propstat(name: str, code: int, reason: str) -> Forward:
    """The response whose href ends with ``name`` carries its properties in a propstat of
    ``code`` with empty values instead of 200: the server could not give that object."""

    def edit(
        path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        root = _multistatus(body)
        (response,) = (
            r
            for r in root.findall(f"{DAV}response")
            if (r.findtext(f"{DAV}href") or "").endswith(name)
        )
        for propstat in response.iter(f"{DAV}propstat"):
            for value in propstat.iter():
                if value.tag in (f"{DAV}getetag", f"{CALDAV}calendar-data"):
                    value.text = None
            line = propstat.find(f"{DAV}status")
            assert line is not None
            line.text = f"HTTP/1.1 {code} {reason}"
        return status, headers, _serialise(root)

    return Forward(edit)


def without_etags() -> Forward:
    """No ETag header and no getetag property: a server that does not tell versions."""

    def edit(
        path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        kept = {k: v for k, v in headers.items() if k.lower() != "etag"}
        if status == 207:
            root = _multistatus(body)
            for prop in root.iter(f"{DAV}prop"):
                for etag in prop.findall(f"{DAV}getetag"):
                    prop.remove(etag)
            body = _serialise(root)
        return status, kept, body

    return Forward(edit)


def without_ctag() -> Forward:
    """No Calendar Server getctag property: a server that gives none (RFC 4918 9.1: the
    property then comes in a 404 propstat, with no value)."""

    def edit(
        path: str, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if status != 207:
            return status, headers, body
        root = _multistatus(body)
        for response in root.findall(f"{DAV}response"):
            found = [(prop, ctag) for prop in response.iter(f"{DAV}prop")
                     for ctag in prop.findall(f"{CTAG}getctag")]  # fmt: skip
            for prop, ctag in found:  # listed first: the 404 propstat added holds one too
                prop.remove(ctag)
                missing = ElementTree.SubElement(response, f"{DAV}propstat")
                ElementTree.SubElement(ElementTree.SubElement(missing, f"{DAV}prop"), ctag.tag)
                ElementTree.SubElement(missing, f"{DAV}status").text = "HTTP/1.1 404 Not Found"
        return status, headers, _serialise(root)

    return Forward(edit)


# --- the proxy ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TroubleProxy

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        action = self.server.decide(self.command, self.path)
        if isinstance(action, Drop):
            self.server.record(Seen(self.command, self.path, None, headers, arrived))
            self.close_connection = True  # no answer at all
            return
        if isinstance(action, Answer):
            status, answer_headers, payload = action.status, dict(action.headers), action.body
        else:
            status, answer_headers, payload = self._upstream(body)
            if action.edit is not None:
                status, answer_headers, payload = action.edit(
                    self.path, status, answer_headers, payload
                )
        carried = b"BEGIN:VCALENDAR" in payload
        self.server.record(Seen(self.command, self.path, status, headers, arrived, carried))
        self.send_response(status)
        for key, value in answer_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _upstream(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Accept-Encoding"] = "identity"  # bodies the edits can read
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        finally:
            upstream.close()
        kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
        return response.status, kept, payload


class TroubleProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int, rule: Rule) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_port = upstream_port
        self.rule = rule
        self.seen: list[Seen] = []
        self._count = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def decide(self, method: str, path: str) -> Action:
        # One at a time: the runner's two reads arrive concurrently, and rules count.
        with self._lock:
            index = self._count
            self._count += 1
            return self.rule(method, path, index)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def forget(self) -> None:
        """Start recording afresh (e.g. after a test's first, untroubled run)."""
        with self._lock:
            self.seen.clear()

    def of(self, method: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method]


@contextmanager
def trouble_proxy(upstream_port: int, rule: Rule = forward_all) -> Iterator[TroubleProxy]:
    """A proxy to Radicale on ``upstream_port``, stopped on every way out. Change
    ``proxy.rule`` to change its behaviour mid-test (e.g. heal it)."""
    server = TroubleProxy(upstream_port, rule)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
