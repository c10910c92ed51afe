"""The Graph v1.0 routes: calendars, calendarView (+ delta), events, instances.

Request in, (status, headers, JSON body) out; no sockets here. Shapes and error codes are from
the Graph v1.0 reference pages named in README.md.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import events as ev
from . import odata
from . import timezones as tz
from .store import Calendar, Mailbox, NotFound, Store, Stored, Token, item_not_found

READ_ROLES = {"Calendars.Read", "Calendars.ReadWrite"}
WRITE_ROLES = {"Calendars.ReadWrite"}
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
WINDOW_REQUIRED = (
    "This request requires a time window specified by the query string parameters "
    "StartDateTime and EndDateTime."
)

Body = dict[str, Any] | None
Response = tuple[int, dict[str, str], Body]


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    inner = {"date": date, "request-id": request_id, "client-request-id": request_id}
    return {"error": {"code": code, "message": message, "innerError": inner}}


@dataclass
class Request:
    method: str
    segments: list[str]  # the path after /v1.0, split on "/"
    query: dict[str, str]  # keys lower-cased
    headers: dict[str, str]  # keys lower-cased
    body: Any
    root: str  # base_url + "/v1.0"
    raw_query: dict[str, str] = field(default_factory=dict)  # as sent
    prefer: dict[str, str] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)

    @property
    def zone(self) -> str | None:
        name = self.prefer.get("outlook.timezone")
        if not name:
            return None
        try:
            tz.zone(name)
        except tz.UnknownTimeZone:
            return None
        if f'outlook.timezone="{name}"' not in self.applied:
            self.applied.append(f'outlook.timezone="{name}"')
        return name

    @property
    def body_type(self) -> str | None:
        wanted = self.prefer.get("outlook.body-content-type", "").lower()
        if wanted in ("text", "html"):
            if f'outlook.body-content-type="{wanted}"' not in self.applied:
                self.applied.append(f'outlook.body-content-type="{wanted}"')
            return wanted
        return None

    def page_size(self) -> int:
        if "$top" in self.query:
            return max(1, min(MAX_PAGE_SIZE, int(self.query["$top"])))
        pref = self.prefer.get("odata.maxpagesize")
        if pref and pref.isdigit():
            self.applied.append(f"odata.maxpagesize={pref}")
            return max(1, min(MAX_PAGE_SIZE, int(pref)))
        return DEFAULT_PAGE_SIZE


def authorize(store: Store, header: str | None, write: bool) -> Token:
    if not header or not header.lower().startswith("bearer "):
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    token = store.tokens.get(header[7:].strip())
    if token is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    if token.expires_at <= time.time():
        raise GraphError(
            401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
        )
    if not set(token.roles) & (WRITE_ROLES if write else READ_ROLES):
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    return token


def _window(req: Request) -> tuple[dt.datetime, dt.datetime]:
    start, end = req.query.get("startdatetime"), req.query.get("enddatetime")
    if not start or not end:
        raise GraphError(400, "ErrorInvalidParameter", WINDOW_REQUIRED)
    try:
        return tz.parse_query_instant(start), tz.parse_query_instant(end)
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidParameter", WINDOW_REQUIRED) from exc


def _render(
    req: Request, record: dict[str, Any], expand: list[str] | None = None
) -> dict[str, Any]:
    out = ev.render(record, req.zone, body_type=req.body_type, expand=expand)
    return odata.apply_select(out, req.query.get("$select"))


def _page(req: Request, items: list[dict[str, Any]], path: str, context: str) -> Response:
    size, skip = req.page_size(), int(req.query.get("$skip", "0") or 0)
    expand = _expand(req)
    page = [_render(req, item, expand) for item in items[skip : skip + size]]
    body: dict[str, Any] = {"@odata.context": context}
    if skip + size < len(items):
        query = {k: v for k, v in req.raw_query.items() if k.lower() != "$skip"}
        query["$skip"] = str(skip + size)
        body["@odata.nextLink"] = f"{req.root}/{path}?{urlencode(query, safe='$:')}"
    body["value"] = page
    return 200, {}, body


def _expand(req: Request) -> list[str] | None:
    try:
        return odata.parse_expand(req.query.get("$expand", ""))
    except odata.BadQuery as exc:
        raise GraphError(400, "BadRequest", str(exc)) from exc


class GraphApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, req: Request, authorization: str | None) -> Response:
        segs = req.segments
        low = [s.lower() for s in segs]
        write = req.method not in ("GET", "HEAD")
        token = authorize(self.store, authorization, write)
        if low[:1] == ["me"]:
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        if low[:1] != ["users"] or len(segs) < 3:
            raise GraphError(
                400,
                "BadRequest",
                f"Resource not found for the segment '{segs[0] if segs else ''}'.",
            )
        box = self.store.mailbox(token.tenant, segs[1])
        rest, low_rest = segs[2:], low[2:]
        cal: Calendar | None = None
        if low_rest[:1] == ["calendars"] and len(rest) == 1 and req.method == "GET":
            return self._calendars(req, box)
        if low_rest[:1] == ["calendars"] and len(rest) >= 2:
            cal, rest, low_rest = self.store.calendar(box, rest[1]), rest[2:], low_rest[2:]
        elif low_rest[:1] == ["calendar"]:
            cal, rest, low_rest = box.default_calendar(), rest[1:], low_rest[1:]
        if not rest and cal is not None and req.method == "GET":
            return 200, {}, self._calendar_json(req, box, cal)
        target = cal or box.default_calendar()
        if low_rest == ["calendarview"] and req.method == "GET":
            start, end = _window(req)
            items = self.store.view(box, target, start, end, req.zone)
            ctx = f"{req.root}/$metadata#users('{segs[1]}')/calendarView"
            return _page(req, items, "/".join(segs), ctx)
        if low_rest == ["calendarview", "delta"] and req.method == "GET":
            return self._delta(req, box, target, "/".join(segs))
        if low_rest == ["events"] and req.method == "GET":
            return self._list(req, box, target, "/".join(segs))
        if low_rest == ["events"] and req.method == "POST":
            return self._create(req, box, target)
        if low_rest[:1] == ["events"] and len(rest) == 2:
            return self._one(req, box, rest[1], segs[1])
        if low_rest[:1] == ["events"] and low_rest[2:] == ["instances"] and req.method == "GET":
            kind, stored, _ = self.store.find(box, rest[1])
            if kind != "stored" or stored.record.get("type") != "seriesMaster":
                return 200, {}, {"value": []}
            start, end = _window(req)
            items = self.store.instances(stored, start, end, req.zone)
            return _page(req, items, "/".join(segs), f"{req.root}/$metadata#Collection(event)")
        if low_rest[:1] == ["events"] and len(rest) == 3:
            raise GraphError(501, "NotImplemented", f"The stand-in does not implement '{rest[2]}'.")
        raise GraphError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{rest[0] if rest else segs[-1]}'.",
        )

    # --- calendars ---------------------------------------------------------------------------
    def _calendar_json(self, req: Request, box: Mailbox, cal: Calendar) -> dict[str, Any]:
        return {
            "@odata.context": f"{req.root}/$metadata#users('{box.upn}')/calendars/$entity",
            "id": cal.id,
            "name": cal.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": cal.is_default,
            "changeKey": cal.change_key,
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not cal.is_default,
            "owner": {"name": box.display_name, "address": box.upn},
        }

    def _calendars(self, req: Request, box: Mailbox) -> Response:
        value = [self._calendar_json(req, box, c) for c in box.calendars.values()]
        for v in value:
            v.pop("@odata.context")
        ctx = f"{req.root}/$metadata#users('{box.upn}')/calendars"
        return 200, {}, {"@odata.context": ctx, "value": value}

    # --- events ------------------------------------------------------------------------------
    def _list(self, req: Request, box: Mailbox, cal: Calendar, path: str) -> Response:
        records = [
            s.record
            for s in self.store.in_calendar(box, cal)
            if s.record.get("type") in ("singleInstance", "seriesMaster")
        ]
        if "$filter" in req.query:
            try:
                predicate = odata.parse_filter(req.query["$filter"])
            except odata.BadQuery as exc:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", str(exc)) from exc
            records = [r for r in records if predicate(r)]
        return _page(req, records, path, f"{req.root}/$metadata#users('{box.upn}')/events")

    def _create(self, req: Request, box: Mailbox, cal: Calendar) -> Response:
        if not isinstance(req.body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            record = self.store.add_event(box, cal, req.body)
        except ev.InvalidEvent as exc:
            raise GraphError(400, "ErrorInvalidRequest", str(exc)) from exc
        out = _render(req, record, _expand(req))
        out = {"@odata.context": f"{req.root}/$metadata#users('{box.upn}')/events/$entity", **out}
        return 201, {"Location": f"{req.root}/users/{box.id}/events/{record['id']}"}, out

    def _one(self, req: Request, box: Mailbox, event_id: str, user: str) -> Response:
        kind, stored, original_start = self.store.find(box, event_id)
        with self.store.lock:
            if kind == "occurrence":
                assert original_start is not None
                record = self.store.occurrence_record(stored, original_start)
            else:
                record = stored.record
            if req.method == "GET":
                out = _render(req, record, _expand(req))
                ctx = f"{req.root}/$metadata#users('{user}')/events/$entity"
                return 200, {}, {"@odata.context": ctx, **out}
            if req.method == "DELETE":
                if kind == "occurrence":
                    assert original_start is not None
                    self.store.cancel_occurrence(stored, original_start)
                else:
                    self.store.delete(stored)
                return 204, {}, None
            if req.method != "PATCH":
                raise GraphError(405, "BadRequest", f"{req.method} is not allowed on an event.")
            if_match = req.headers.get("if-match")
            if if_match and if_match.strip() != "*" and if_match.strip() != record["@odata.etag"]:
                raise GraphError(
                    412,
                    "ErrorIrresolvableConflict",
                    "The send or update operation could not be performed because the change key "
                    "passed in the request does not match the current change key for the item.",
                )
            if not isinstance(req.body, dict):
                raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
            try:
                if kind == "occurrence":
                    assert original_start is not None
                    record = self.store.make_exception(stored, original_start, req.body)
                else:
                    record = self.store.update(stored, req.body)
            except ev.InvalidEvent as exc:
                raise GraphError(400, "ErrorInvalidRequest", str(exc)) from exc
            ctx = f"{req.root}/$metadata#users('{user}')/events/$entity"
            return 200, {}, {"@odata.context": ctx, **_render(req, record, _expand(req))}

    # --- delta -------------------------------------------------------------------------------
    def _delta(self, req: Request, box: Mailbox, cal: Calendar, path: str) -> Response:
        states = self.store.delta_states
        skip, delta = req.query.get("$skiptoken"), req.query.get("$deltatoken")
        with self.store.lock:
            if skip or delta:
                state = states.get(skip or delta or "")
                if state is None or state["mailbox"] is not box or state["calendar"] != cal.id:
                    raise GraphError(
                        410, "SyncStateNotFound", "The sync state is not found or has expired."
                    )
            else:
                start, end = _window(req)
                state = {
                    "mailbox": box,
                    "calendar": cal.id,
                    "start": start,
                    "end": end,
                    "snapshot": {},
                }
            if skip:
                pending, snapshot = state["pending"], state["next_snapshot"]
            else:
                current = self.store.view(box, cal, state["start"], state["end"], req.zone)
                snapshot = {e["id"]: e["changeKey"] for e in current}
                old = state["snapshot"]
                pending = [e for e in current if old.get(e["id"]) != e["changeKey"]]
                pending += [
                    {
                        "@odata.type": "#microsoft.graph.event",
                        "id": i,
                        "@removed": {"reason": "deleted"},
                    }
                    for i in old
                    if i not in snapshot
                ]
            size = req.page_size()
            page, rest = pending[:size], pending[size:]
            token = secrets.token_urlsafe(24)
            base = {
                "mailbox": box,
                "calendar": cal.id,
                "start": state["start"],
                "end": state["end"],
            }
            body: dict[str, Any] = {"@odata.context": f"{req.root}/$metadata#Collection(event)"}
            if rest:
                states[token] = base | {"pending": rest, "next_snapshot": snapshot}
                body["@odata.nextLink"] = f"{req.root}/{path}?$skiptoken={token}"
            else:
                states[token] = base | {"snapshot": snapshot}
                body["@odata.deltaLink"] = f"{req.root}/{path}?$deltatoken={token}"
        body["value"] = [
            e if "@removed" in e else ev.render(e, req.zone, body_type=req.body_type) for e in page
        ]
        return 200, {}, body


def handle_errors(api: GraphApi, req: Request, authorization: str | None) -> Response:
    request_id = str(uuid.uuid4())
    try:
        status, headers, body = api.handle(req, authorization)
    except GraphError as exc:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers["WWW-Authenticate"] = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
            )
        status, body = exc.status, error_body(exc.code, exc.message, request_id)
    except NotFound as exc:
        status, headers, body = 404, {}, error_body(exc.code, exc.message, request_id)
    except (ValueError, KeyError) as exc:
        status, headers, body = 400, {}, error_body("BadRequest", str(exc), request_id)
    headers["request-id"] = request_id
    headers["client-request-id"] = req.headers.get("client-request-id", request_id)
    if req.applied and status < 400:
        headers["Preference-Applied"] = ", ".join(req.applied)
    return status, headers, body


__all__ = ["GraphApi", "GraphError", "Request", "Stored", "handle_errors", "item_not_found"]
