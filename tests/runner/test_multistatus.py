"""parse_multistatus: every response that is not a calendar object is reported, never dropped
(issue 14 item 3). The multistatus bodies are written by hand, as servers send them."""

from __future__ import annotations

from archive_runner.backends.caldav import Failed, parse_multistatus

COLLECTION = "/alice/work/"
DATA = "BEGIN:VCALENDAR\nEND:VCALENDAR\n"


def multistatus(*responses: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        + "".join(responses)
        + "</D:multistatus>"
    ).encode()


def propstat(status: str, *props: str) -> str:
    prop = f"<D:prop>{''.join(props)}</D:prop>"
    return f"<D:propstat>{prop}<D:status>{status}</D:status></D:propstat>"


def response(href: str, *parts: str) -> str:
    return f"<D:response><D:href>{href}</D:href>{''.join(parts)}</D:response>"


OK = "HTTP/1.1 200 OK"
ETAG = '<D:getetag>"e1"</D:getetag>'
CALENDAR = f"<C:calendar-data>{DATA}</C:calendar-data>"


def test_objects_with_calendar_data_are_found_with_their_etag() -> None:
    parsed = parse_multistatus(
        multistatus(response("/alice/work/a.ics", propstat(OK, ETAG, CALENDAR))), COLLECTION
    )
    assert parsed.found == [("/alice/work/a.ics", '"e1"', DATA)]
    assert parsed.failed == []


def test_a_404_for_getetag_alone_is_no_failure() -> None:
    body = multistatus(
        response(
            "/alice/work/a.ics",
            propstat(OK, CALENDAR),
            propstat("HTTP/1.1 404 Not Found", "<D:getetag/>"),
        )
    )
    parsed = parse_multistatus(body, COLLECTION)
    assert parsed.found == [("/alice/work/a.ics", None, DATA)]
    assert parsed.failed == []


def test_a_result_cut_short_names_the_collection_and_507() -> None:
    body = multistatus(
        response("/alice/work/a.ics", propstat(OK, ETAG, CALENDAR)),
        response(COLLECTION, "<D:status>HTTP/1.1 507 Insufficient Storage</D:status>"),
    )
    parsed = parse_multistatus(body, COLLECTION)
    assert len(parsed.found) == 1
    assert parsed.failed == [Failed(COLLECTION, 507, "Insufficient Storage")]
    assert parsed.failed[0].answer() == "HTTP 507 Insufficient Storage"


def test_a_failed_propstat_names_the_status_of_the_one_holding_calendar_data() -> None:
    body = multistatus(
        response("/alice/work/b.ics", propstat("HTTP/1.1 404 Not Found", ETAG, CALENDAR)),
        response(
            "/alice/work/c.ics",
            propstat(OK, ETAG),
            propstat("HTTP/1.1 403 Forbidden", "<D:displayname/>"),
            propstat("HTTP/1.1 500 Internal Server Error", "<C:calendar-data/>"),
        ),
    )
    parsed = parse_multistatus(body, COLLECTION)
    assert parsed.found == []
    assert parsed.failed == [
        Failed("/alice/work/b.ics", 404, "Not Found"),
        Failed("/alice/work/c.ics", 500, "Internal Server Error"),
    ]


def test_an_object_without_calendar_data_or_with_an_unreadable_status_is_a_failure() -> None:
    body = multistatus(
        response("/alice/work/d.ics", propstat(OK, ETAG, "<C:calendar-data/>")),
        response("/alice/work/e.ics", "<D:status>garbage</D:status>"),
        response("/alice/work/f.ics", "<D:status>HTTP/1.1 404 Not Found</D:status>"),
    )
    parsed = parse_multistatus(body, COLLECTION)
    assert parsed.failed == [
        Failed("/alice/work/d.ics", None, "HTTP 200 without calendar data"),
        Failed("/alice/work/e.ics", None, "garbage"),
        Failed("/alice/work/f.ics", 404, "Not Found"),
    ]
    assert [f.answer() for f in parsed.failed] == [
        "HTTP 200 without calendar data",
        "garbage",
        "HTTP 404 Not Found",
    ]


def test_the_collection_itself_listed_without_an_error_is_not_an_object() -> None:
    body = multistatus(
        response(COLLECTION, propstat(OK, ETAG)),
        response("http://cal.example.org/alice/work", propstat("HTTP/1.1 404 Not Found", ETAG)),
        response("/alice/work/a.ics", propstat(OK, ETAG, CALENDAR)),
    )
    parsed = parse_multistatus(body, COLLECTION)
    assert [href for href, _, _ in parsed.found] == ["/alice/work/a.ics"]
    assert parsed.failed == []
