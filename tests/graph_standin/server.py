"""GraphStandIn: a threaded HTTP(S) server on 127.0.0.1 serving the Graph v1.0 subset and the
identity platform's token endpoint, plus the test-side API to seed data and inject faults."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from . import auth
from . import events as ev
from . import timezones as tz
from .graph_api import GraphApi, Request, error_body, handle_errors
from .store import App, Mailbox, Store, Stored, item_not_found

RECORDED_HEADERS = ("prefer", "if-match", "content-type", "client-request-id", "accept")
DEFAULT_FAULT_CODES = {
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response."),
}


class RecordedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    # For POST/PATCH of an event: whether its JSON body carried a non-empty "attendees".
    had_attendees: bool | None = None


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    headers: dict[str, str]
    body: Any
    remaining: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header(
                "Content-Type", "application/json; odata.metadata=minimal; charset=utf-8"
            )
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self) -> None:
        standin = self.server.standin
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        attendees: bool | None = None
        body: Any = None
        if raw and "json" in headers.get("content-type", "json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if (
            self.command in ("POST", "PATCH")
            and "/events" in path.lower()
            and isinstance(body, dict)
        ):
            attendees = bool(body.get("attendees"))
        recorded = {k: v for k, v in headers.items() if k in RECORDED_HEADERS}
        standin._record(RecordedRequest(self.command, path, query, recorded, attendees))
        fault = standin._take_fault(self.command, path)
        if fault is not None:
            if fault.status is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(fault.status, fault.headers, fault.body)
            return
        if path.startswith("/v1.0/"):
            self._graph(path, query, headers, body)
        else:
            self._identity(path, query, raw, headers)

    def _graph(self, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> None:
        standin = self.server.standin
        req = Request(
            method=self.command,
            segments=[s for s in path[len("/v1.0/") :].split("/") if s],
            query={k.lower(): v for k, v in query.items()},
            raw_query=query,
            headers=headers,
            body=body,
            root=standin.base_url + "/v1.0",
            prefer=tz.parse_prefer(self.headers.get_all("Prefer") or []),
        )
        status, out_headers, out = handle_errors(standin._api, req, headers.get("authorization"))
        self._send(status, out_headers, out)

    def _identity(
        self, path: str, query: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> None:
        standin, store = self.server.standin, self.server.standin._store
        host = standin.authority_host
        parts = [p for p in path.split("/") if p]
        try:
            if parts == ["common", "discovery", "instance"] and self.command == "GET":
                self._send(
                    200, {}, auth.instance_discovery(host, query.get("authorization_endpoint", ""))
                )
            elif len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                if parts[0] not in store.tenants:
                    raise auth.unknown_tenant(parts[0])
                self._send(200, {}, auth.openid_configuration(host, parts[0]))
            elif (
                len(parts) == 4
                and parts[1:] == ["oauth2", "v2.0", "token"]
                and self.command == "POST"
            ):
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                basic = None
                if headers.get("authorization", "").lower().startswith("basic "):
                    user, _, password = (
                        base64.b64decode(headers["authorization"][6:]).decode().partition(":")
                    )
                    basic = (unquote(user), unquote(password))
                answer = auth.token(store, host, standin.base_url, parts[0], form, basic)
                self._send(
                    200, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, answer
                )
            else:
                self._send(404, {}, error_body("ResourceNotFound", f"No route for {path}.", "0"))
        except auth.AuthError as exc:
            self._send(exc.status, {}, exc.body())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: GraphStandIn


class GraphStandIn:
    """See README.md. Use as a context manager; the server stops on every exit path."""

    def __init__(self, tls: tuple[str | Path, str | Path] | None = None) -> None:
        self._tls = tls
        self._store = Store()
        self._api = GraphApi(self._store)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> GraphStandIn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        try:
            if self._tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
                server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https" if self._tls else "http"
            self.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="graph-standin", daemon=True
            )
            self._thread.start()
        except BaseException:
            server.server_close()
            raise
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def tokens_issued(self) -> int:
        return self._store.tokens_issued

    # --- seeding -----------------------------------------------------------------------------
    def add_app(
        self,
        tenant: str,
        client_id: str,
        *,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
        roles: tuple[str, ...] | list[str] = ("Calendars.Read",),
    ) -> None:
        pems = (
            []
            if certificate_pem is None
            else [certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem]
        )
        self._store.add_app(App(tenant, client_id, secret, pems, tuple(roles)))

    def add_mailbox(self, tenant: str, upn: str) -> str:
        return self._store.add_mailbox(tenant, upn).id

    def _box(self, tenant: str, mailbox: str) -> Mailbox:
        return self._store.mailbox(tenant, mailbox)

    def add_calendar(self, tenant: str, mailbox: str, name: str) -> str:
        return self._store.add_calendar(self._box(tenant, mailbox), name).id

    def default_calendar_id(self, tenant: str, mailbox: str) -> str:
        return self._box(tenant, mailbox).default_calendar().id

    def add_event(
        self, tenant: str, mailbox: str, calendar_id: str | None, event: dict[str, Any]
    ) -> str:
        box = self._box(tenant, mailbox)
        return str(self._store.add_event(box, self._store.calendar(box, calendar_id), event)["id"])

    def edit_event(self, tenant: str, mailbox: str, event_id: str, patch: dict[str, Any]) -> None:
        box = self._box(tenant, mailbox)
        kind, stored, original = self._store.find(box, event_id)
        if kind == "occurrence" and original is not None:
            self._store.make_exception(stored, original, patch)
        else:
            self._store.update(stored, patch)

    def _master(self, tenant: str, mailbox: str, master_id: str) -> Stored:
        kind, stored, _ = self._store.find(self._box(tenant, mailbox), master_id)
        if kind != "stored" or stored.record.get("type") != "seriesMaster":
            raise item_not_found()
        return stored

    def edit_occurrence(
        self, tenant: str, mailbox: str, master_id: str, original_start: str, patch: dict[str, Any]
    ) -> str:
        """Make (or update) the exception for the occurrence starting at original_start (UTC ISO);
        returns the exception's id."""
        master = self._master(tenant, mailbox, master_id)
        when = tz.parse_query_instant(original_start)
        exc_id = master.series.exceptions.get(when)
        if exc_id is not None:
            self._store.update(self._store.events[exc_id], patch)
            return exc_id
        return str(self._store.make_exception(master, when, patch)["id"])

    def delete_event(self, tenant: str, mailbox: str, event_id: str) -> None:
        kind, stored, original = self._store.find(self._box(tenant, mailbox), event_id)
        if kind == "occurrence" and original is not None:
            self._store.cancel_occurrence(stored, original)
        else:
            self._store.delete(stored)

    def delete_occurrence(
        self, tenant: str, mailbox: str, master_id: str, original_start: str
    ) -> None:
        master = self._master(tenant, mailbox, master_id)
        self._store.cancel_occurrence(master, tz.parse_query_instant(original_start))

    def events(
        self, tenant: str, mailbox: str, calendar_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored masters, single instances and exceptions, as Graph renders them (UTC), with
        their singleValueExtendedProperties."""
        box = self._box(tenant, mailbox)
        cal = self._store.calendar(box, calendar_id)
        return [
            ev.render(s.record, None, with_properties=True)
            for s in self._store.in_calendar(box, cal)
        ]

    def expire_tokens(self) -> None:
        self._store.expire_tokens()

    # --- faults and records --------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        *,
        headers: dict[str, str] | None = None,
        count: int = 1,
        body: Any = None,
    ) -> None:
        """The next `count` requests whose method matches ('*' for any) and whose path matches
        path_regex (re.search) get this answer; status None drops the connection unanswered."""
        out_headers = dict(headers or {})
        if status in (429, 503) and not any(h.lower() == "retry-after" for h in out_headers):
            out_headers["Retry-After"] = "1"
        if body is None and status is not None:
            code, message = DEFAULT_FAULT_CODES.get(status, ("UnknownError", "Injected failure."))
            body = error_body(code, message, "00000000-0000-0000-0000-000000000000")
        with self._lock:
            self._faults.append(
                Fault(method.upper(), re.compile(path_regex), status, out_headers, body, count)
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
