"""The Graph stand-in against Microsoft's documented examples. Expected values are worked out by
hand in each test (never read back from the server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.graph_standin import GraphStandIn

T = "contoso"
ALICE = "alice@contoso.com"


def _event(subject: str, start: str, end: str, zone: str = "UTC", **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        **extra,
    }


def _token(graph: GraphStandIn, client_id: str = "reader", secret: str = "s3cret") -> str:
    # "OAuth 2.0 client credentials flow": POST /{tenant}/oauth2/v2.0/token, form-encoded.
    r = httpx.post(
        f"{graph.authority_host}/{T}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": f"{graph.base_url}/.default",
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as g:
        g.add_app(T, "reader", secret="s3cret", roles=("Calendars.Read",))
        g.add_app(T, "writer", secret="s3cret", roles=("Calendars.ReadWrite",))
        g.add_mailbox(T, ALICE)
        yield g


def _get(graph: GraphStandIn, url: str, token: str, **headers: str) -> httpx.Response:
    if not url.startswith("http"):
        url = f"{graph.base_url}/v1.0{url}"
    return httpx.get(url, headers={"Authorization": f"Bearer {token}", **headers})


def test_calendar_view_documented_request_and_response_shape(graph: GraphStandIn) -> None:
    # "List calendarView" (user-list-calendarview): GET .../calendarView?startDateTime=
    # 2020-01-01T19:00:00-08:00&endDateTime=2020-01-02T19:00:00-08:00; the offsets in the values
    # are honoured; "If not specified, those time values are returned in UTC"; a
    # `Preference-Applied` header confirms a Prefer header.
    graph.add_event(
        T,
        ALICE,
        None,
        _event("In", "2020-01-02T09:00:00", "2020-01-02T10:00:00", "Pacific Standard Time"),
    )
    graph.add_event(
        T,
        ALICE,
        None,
        _event("After", "2020-01-02T20:00:00", "2020-01-02T21:00:00", "Pacific Standard Time"),
    )
    token = _token(graph)
    url = (
        f"{graph.base_url}/v1.0/users/{ALICE}/calendarView?startDateTime=2020-01-01T19:00:00"
        "-08:00&endDateTime=2020-01-02T19:00:00-08:00"
    )
    r = _get(graph, url.replace("+", "%2B"), token)
    assert r.status_code == 200
    body = r.json()
    assert [e["subject"] for e in body["value"]] == ["In"]
    event = body["value"][0]
    # 09:00 PST (UTC-8) is 17:00 UTC.
    assert event["start"] == {"dateTime": "2020-01-02T17:00:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2020-01-02T18:00:00.0000000", "timeZone": "UTC"}
    assert event["type"] == "singleInstance" and event["originalStartTimeZone"] == (
        "Pacific Standard Time"
    )
    for name in ("id", "iCalUId", "changeKey", "@odata.etag", "lastModifiedDateTime"):
        assert event[name]
    assert "singleValueExtendedProperties" not in event
    r = _get(graph, url, token, Prefer='outlook.timezone="Pacific Standard Time"')
    assert r.json()["value"][0]["start"]["dateTime"] == "2020-01-02T09:00:00.0000000"
    assert r.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'


def test_paging_with_maxpagesize_and_default_page_size(graph: GraphStandIn) -> None:
    # "Paging Microsoft Graph data": follow @odata.nextLink until it is absent;
    # `Prefer: odata.maxpagesize={x}` sets the page size (event-delta / delta-query-events).
    for day in range(1, 13):
        graph.add_event(
            T,
            ALICE,
            None,
            _event(f"e{day:02}", f"2024-05-{day:02}T10:00:00", f"2024-05-{day:02}T11:00:00"),
        )
    token = _token(graph)
    url: str | None = (
        f"/users/{ALICE}/calendarView?startDateTime=2024-05-01T00:00:00Z"
        "&endDateTime=2024-05-06T00:00:00Z"
    )
    sizes, subjects = [], []
    while url:
        body = _get(graph, url, token, Prefer="odata.maxpagesize=2").json()
        sizes.append(len(body["value"]))
        subjects += [e["subject"] for e in body["value"]]
        url = body.get("@odata.nextLink")
    assert sizes == [2, 2, 1]
    assert subjects == ["e01", "e02", "e03", "e04", "e05"]  # sorted by start
    everything = (
        f"/users/{ALICE}/calendarView?startDateTime=2024-05-01T00:00:00Z"
        "&endDateTime=2024-06-01T00:00:00Z"
    )
    first = _get(graph, everything, token).json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first
    assert len(_get(graph, first["@odata.nextLink"], token).json()["value"]) == 2


def test_delta_round_trip(graph: GraphStandIn) -> None:
    # "Get incremental changes to events in a calendar view" (delta-query-events): five events,
    # odata.maxpagesize=2 -> pages of 2, 2, 1; the last gives @odata.deltaLink; the next round
    # returns only changes, deletions as {"@removed": {"reason": "deleted"}, "id": ...}.
    ids = [
        graph.add_event(
            T, ALICE, None, _event(f"e{d}", f"2016-12-{d:02}T10:00:00", f"2016-12-{d:02}T11:00:00")
        )
        for d in (9, 10, 11, 12, 13)
    ]
    token = _token(graph)
    url: str | None = (
        f"/users/{ALICE}/calendarView/delta?startdatetime=2016-12-01T00:00:00Z"
        "&enddatetime=2016-12-30T00:00:00Z"
    )
    seen, pages, delta_link = [], 0, None
    while url:
        body = _get(graph, url, token, Prefer="odata.maxpagesize=2").json()
        pages += 1
        seen += [e["id"] for e in body["value"]]
        url, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink", delta_link)
    assert pages == 3 and sorted(seen) == sorted(ids) and delta_link
    graph.delete_event(T, ALICE, ids[0])
    graph.edit_event(T, ALICE, ids[1], {"subject": "renamed"})
    new = graph.add_event(
        T, ALICE, None, _event("new", "2016-12-25T06:00:00", "2016-12-25T07:30:00")
    )
    body = _get(graph, delta_link, token).json()
    assert "@odata.deltaLink" in body
    removed = [e for e in body["value"] if "@removed" in e]
    assert removed == [
        {"@odata.type": "#microsoft.graph.event", "id": ids[0], "@removed": {"reason": "deleted"}}
    ]
    changed = {e["id"]: e["subject"] for e in body["value"] if "@removed" not in e}
    assert changed == {ids[1]: "renamed", new: "new"}
    again = _get(graph, body["@odata.deltaLink"], token).json()
    assert again["value"] == [] and "@odata.deltaLink" in again


def test_throttling_429_retry_after_and_dropped_connection(graph: GraphStandIn) -> None:
    # "Microsoft Graph throttling guidance": 429 Too Many Requests with a Retry-After header (in
    # seconds); "Microsoft Graph error responses": {"error": {"code", "message", "innerError"}}.
    token = _token(graph)
    url = (
        f"/users/{ALICE}/calendarView?startDateTime=2024-01-01T00:00:00Z"
        "&endDateTime=2024-01-02T00:00:00Z"
    )
    graph.fail_next("GET", r"/calendarView$", 429, headers={"Retry-After": "2"})
    r = _get(graph, url, token)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert set(r.json()["error"]) >= {"code", "message"}
    assert _get(graph, url, token).status_code == 200
    graph.fail_next("GET", r"/calendarView$", None)
    with pytest.raises(httpx.TransportError):
        _get(graph, url, token)
    assert _get(graph, url, token).status_code == 200
    assert sum(1 for r in graph.requests if r.path.endswith("/calendarView")) == 4


def test_weekly_london_series_keeps_local_time_across_dst(graph: GraphStandIn) -> None:
    # recurrencePattern (weekly, daysOfWeek, firstDayOfWeek) + recurrenceRange (noEnd).
    # UK clocks go forward 2024-03-31 01:00 UTC: 09:00 GMT = 09:00Z before, 09:00 BST = 08:00Z
    # after. New York is already on EDT (UTC-4) since 2024-03-10.
    series = _event(
        "Standup",
        "2024-03-18T09:00:00",
        "2024-03-18T09:30:00",
        "Europe/London",
        recurrence={
            "pattern": {
                "type": "weekly",
                "interval": 1,
                "daysOfWeek": ["monday"],
                "firstDayOfWeek": "sunday",
            },
            "range": {"type": "noEnd", "startDate": "2024-03-18"},
        },
    )
    master = graph.add_event(T, ALICE, None, series)
    token = _token(graph)
    url = (
        f"/users/{ALICE}/calendarView?startDateTime=2024-03-18T00:00:00Z"
        "&endDateTime=2024-04-09T00:00:00Z"
    )
    value = _get(graph, url, token).json()["value"]
    assert [e["start"]["dateTime"] for e in value] == [
        "2024-03-18T09:00:00.0000000",
        "2024-03-25T09:00:00.0000000",
        "2024-04-01T08:00:00.0000000",
        "2024-04-08T08:00:00.0000000",
    ]
    assert {e["type"] for e in value} == {"occurrence"}
    assert {e["seriesMasterId"] for e in value} == {master}
    assert [e["originalStart"] for e in value][2] == "2024-04-01T08:00:00Z"
    assert len({e["id"] for e in value}) == 4
    local = _get(graph, url, token, Prefer='outlook.timezone="GMT Standard Time"').json()["value"]
    assert {e["start"]["dateTime"][11:16] for e in local} == {"09:00"}
    ny = _get(graph, url, token, Prefer='outlook.timezone="America/New_York"').json()["value"]
    assert [e["start"]["dateTime"][11:16] for e in ny] == ["05:00", "05:00", "04:00", "04:00"]


def test_exception_cancelled_occurrence_and_if_match(graph: GraphStandIn) -> None:
    # event resource: type occurrence | exception, seriesMasterId, originalStart; "Update event"
    # (PATCH with If-Match; a stale change key -> 412 ErrorIrresolvableConflict).
    series = _event(
        "Daily",
        "2024-06-03T12:00:00",
        "2024-06-03T13:00:00",
        "W. Europe Standard Time",
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": "2024-06-03", "numberOfOccurrences": 5},
        },
    )
    master = graph.add_event(T, ALICE, None, series)
    # 12:00 CEST (UTC+2) = 10:00Z each day, 3 to 7 June.
    graph.edit_occurrence(
        T,
        ALICE,
        master,
        "2024-06-05T10:00:00Z",
        {
            "subject": "Moved",
            "start": {"dateTime": "2024-06-05T14:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2024-06-05T15:00:00", "timeZone": "UTC"},
        },
    )
    graph.delete_occurrence(T, ALICE, master, "2024-06-06T10:00:00Z")
    token = _token(graph, "writer")
    url = (
        f"/users/{ALICE}/calendarView?startDateTime=2024-06-01T00:00:00Z"
        "&endDateTime=2024-06-30T00:00:00Z"
    )
    value = _get(graph, url, token).json()["value"]
    assert [(e["start"]["dateTime"][:16], e["type"], e["subject"]) for e in value] == [
        ("2024-06-03T10:00", "occurrence", "Daily"),
        ("2024-06-04T10:00", "occurrence", "Daily"),
        ("2024-06-05T14:00", "exception", "Moved"),
        ("2024-06-07T10:00", "occurrence", "Daily"),
    ]
    assert value[2]["originalStart"] == "2024-06-05T10:00:00Z"
    occurrence = value[0]
    event_url = f"{graph.base_url}/v1.0/users/{ALICE}/events/{occurrence['id']}"
    auth = {"Authorization": f"Bearer {token}"}
    stale = httpx.patch(event_url, json={"subject": "x"}, headers={**auth, "If-Match": 'W/"old"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    ok = httpx.patch(
        event_url,
        json={"subject": "Edited"},
        headers={**auth, "If-Match": occurrence["@odata.etag"]},
    )
    assert ok.status_code == 200 and ok.json()["type"] == "exception"
    assert (
        httpx.delete(
            f"{graph.base_url}/v1.0/users/{ALICE}/events/{value[1]['id']}", headers=auth
        ).status_code
        == 204
    )
    after = _get(graph, url, token).json()["value"]
    assert [e["subject"] for e in after] == ["Edited", "Moved", "Daily"]


def test_extended_property_create_filter_expand_and_no_invitations(graph: GraphStandIn) -> None:
    # "Create single-value extended property" (POST with singleValueExtendedProperties) and
    # "Get singleValueLegacyExtendedProperty": $filter=singleValueExtendedProperties/Any(ep: ep/id
    # eq '...' and ep/value eq '...'), $expand=singleValueExtendedProperties($filter=id eq '...').
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
    token = _token(graph, "writer")
    auth = {"Authorization": f"Bearer {token}"}
    archive = graph.add_calendar(T, ALICE, "Archive")
    events_url = f"{graph.base_url}/v1.0/users/{ALICE}/calendars/{archive}/events"
    body = _event(
        "Copy",
        "2024-02-01T10:00:00",
        "2024-02-01T11:00:00",
        attendees=[{"emailAddress": {"address": "bob@contoso.com"}, "type": "required"}],
        singleValueExtendedProperties=[{"id": prop, "value": "Green"}],
    )
    created = httpx.post(events_url, json=body, headers=auth)
    assert created.status_code == 201
    httpx.post(
        events_url, json=_event("Other", "2024-02-02T10:00:00", "2024-02-02T11:00:00"), headers=auth
    )
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq 'green')"
    found = httpx.get(events_url, params={"$filter": flt}, headers=auth).json()["value"]
    assert [e["subject"] for e in found] == ["Copy"]
    assert "singleValueExtendedProperties" not in found[0]
    one = httpx.get(
        f"{graph.base_url}/v1.0/users/{ALICE}/events/{created.json()['id']}",
        params={"$expand": f"singleValueExtendedProperties($filter=id eq '{prop}')"},
        headers=auth,
    ).json()
    assert one["singleValueExtendedProperties"] == [{"id": prop, "value": "Green"}]
    stored = {e["subject"]: e for e in graph.events(T, ALICE, archive)}
    assert stored["Copy"]["singleValueExtendedProperties"] == [{"id": prop, "value": "Green"}]
    posts = [r for r in graph.requests if r.method == "POST" and "/events" in r.path]
    assert [r.had_attendees for r in posts] == [True, False]
    assert not any(r.path.endswith(("/send", "/forward")) for r in graph.requests)


def test_permissions_tenants_and_expiry(graph: GraphStandIn) -> None:
    # "Microsoft Graph error responses": 401 InvalidAuthenticationToken, 403 ErrorAccessDenied,
    # 404 for an unknown user (ErrorInvalidUser) or item (ErrorItemNotFound).
    reader = _token(graph, "reader")
    post = httpx.post(
        f"{graph.base_url}/v1.0/users/{ALICE}/events",
        json=_event("x", "2024-01-01T10:00:00", "2024-01-01T11:00:00"),
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert (post.status_code, post.json()["error"]["code"]) == (403, "ErrorAccessDenied")
    graph.add_app("fabrikam", "foreign", secret="s", roles=("Calendars.ReadWrite",))
    r = httpx.post(
        f"{graph.authority_host}/fabrikam/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "foreign",
            "client_secret": "s",
            "scope": f"{graph.base_url}/.default",
        },
    )
    foreign = r.json()["access_token"]
    r = _get(graph, f"/users/{ALICE}/calendars", foreign)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ErrorInvalidUser")
    r = _get(graph, f"/users/{ALICE}/events/AAMkADnope=", reader)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ErrorItemNotFound")
    cals = _get(graph, f"/users/{ALICE}/calendars", reader).json()["value"]
    assert [c["name"] for c in cals] == ["Calendar"]
    graph.expire_tokens()
    r = _get(graph, f"/users/{ALICE}/calendars", reader)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")


def test_server_stops_on_error(tmp_path: Path) -> None:
    port_holder: list[str] = []
    with pytest.raises(RuntimeError), GraphStandIn() as graph:
        port_holder.append(graph.base_url)
        raise RuntimeError("boom")
    with pytest.raises(httpx.TransportError):
        httpx.get(port_holder[0] + "/v1.0/users", timeout=2)
