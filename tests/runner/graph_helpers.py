"""The sample calendar of tests/runner/data/*.ics as Microsoft Graph events, entered by hand.

Each is what a client would POST to Graph (``event_json``), plus the instances Graph's
calendarView gives for March 2024 (for the pure converter's tests). Times as Graph writes them
with ``Prefer: outlook.timezone="UTC"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.graph_standin import GraphStandIn

from .helpers import copies

LONG_SUBJECT = "Plain UTC meeting with a long description so that the line gets folded by writers"


def _when(value: str, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": value, "timeZone": zone}


PLAIN_UTC: dict[str, Any] = {
    "iCalUId": "plain-utc@example.org",
    "subject": LONG_SUBJECT,
    "start": _when("2024-03-05T12:00:00"),
    "end": _when("2024-03-05T13:00:00"),
    "originalStartTimeZone": "UTC",
}
ALL_DAY: dict[str, Any] = {
    "iCalUId": "all-day@example.org",
    "subject": "All day",
    "isAllDay": True,
    "start": _when("2024-03-06T00:00:00"),
    "end": _when("2024-03-07T00:00:00"),
}
# Graph has no floating times: 01:00 in London, where the sample's floating time is read.
FLOATING: dict[str, Any] = {
    "iCalUId": "floating@example.org",
    "subject": "Floating at 01:00 local",
    "start": _when("2024-03-08T01:00:00", "GMT Standard Time"),
    "end": _when("2024-03-08T01:30:00", "GMT Standard Time"),
    "originalStartTimeZone": "GMT Standard Time",
}
NEW_YORK: dict[str, Any] = {
    "iCalUId": "new-york@example.org",
    "subject": "New York",
    "start": _when("2024-03-08T09:00:00", "Eastern Standard Time"),
    "end": _when("2024-03-08T10:00:00", "Eastern Standard Time"),
    "originalStartTimeZone": "Eastern Standard Time",
}
WEEKLY: dict[str, Any] = {
    "iCalUId": "weekly-london@example.org",
    "subject": "Weekly review",
    "start": _when("2024-03-04T09:00:00", "GMT Standard Time"),
    "end": _when("2024-03-04T10:00:00", "GMT Standard Time"),
    "originalStartTimeZone": "GMT Standard Time",
    "organizer": {"emailAddress": {"name": "Ann", "address": "ann@example.org"}},
    "attendees": [
        {
            "type": "required",
            "status": {"response": "accepted"},
            "emailAddress": {"address": "bob@example.org"},
        },
        {
            "type": "required",
            "status": {"response": "none"},
            "emailAddress": {"address": "cat@example.org"},
        },
    ],
    "recurrence": {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {
            "type": "numbered",
            "startDate": "2024-03-04",
            "numberOfOccurrences": 10,
            "recurrenceTimeZone": "GMT Standard Time",
        },
    },
}
# 2024-03-18 is deleted (the sample's EXDATE); 2024-03-25 moved to the 26th, 14:00 BST.
WEEKLY_DELETED = "2024-03-18T09:00:00Z"
WEEKLY_MOVED = "2024-03-25T09:00:00Z"
WEEKLY_MOVED_TO = {
    "subject": "Weekly review (moved)",
    "start": _when("2024-03-26T14:00:00", "GMT Standard Time"),
    "end": _when("2024-03-26T15:00:00", "GMT Standard Time"),
}
DAILY: dict[str, Any] = {
    "iCalUId": "daily@example.org",
    "subject": "Stand-up",
    "start": _when("2024-01-01T09:30:00", "GMT Standard Time"),
    "end": _when("2024-01-01T09:45:00", "GMT Standard Time"),
    "originalStartTimeZone": "GMT Standard Time",
    "recurrence": {
        "pattern": {"type": "daily", "interval": 1},
        "range": {
            "type": "noEnd",
            "startDate": "2024-01-01",
            "recurrenceTimeZone": "GMT Standard Time",
        },
    },
}
SINGLES = (PLAIN_UTC, ALL_DAY, FLOATING, NEW_YORK)


# --- the stand-in: a Graph and an identity platform on https://127.0.0.1 --------------------

TENANT = "8f2c6a3e-1b4d-4c8e-9a7f-2d5b6c7e8f90"
CLIENT = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
SECRET = "Zq8~vT3pL0wX9rN2mK7jH4gF1dS6aQ5eB-c_yU"  # what an Entra client secret looks like
ALICE = "alice@contoso.com"
ARCHIVER = "archive@contoso.com"
MARCH = ["--start", "2024-03-01", "--end", "2024-03-31", "--time-zone", "Europe/London"]


@dataclass
class Seeded:
    """What was entered: the events' ids and the UIDs (iCalUId) Graph gave them, by sample UID."""

    ids: dict[str, str]
    uids: dict[str, str]

    def expected(self, names: set[str]) -> set[str]:
        """The sample's expected archive UIDs (test_caldav.EXPECTED_MARCH) with Graph's UIDs."""
        out = set()
        for name in names:
            for sample_uid, graph_uid in self.uids.items():
                if name == sample_uid or name.startswith(sample_uid + "-"):
                    out.add(graph_uid + name[len(sample_uid) :])
        return out


def seed_samples(graph: GraphStandIn, mailbox: str = ALICE) -> Seeded:
    """The six sample events, entered by hand into the mailbox's default calendar."""
    ids = {}
    for event in (*SINGLES, WEEKLY, DAILY):
        body = {k: v for k, v in event.items() if k != "iCalUId"}
        ids[event["iCalUId"]] = graph.add_event(TENANT, mailbox, None, body)
    weekly = ids[WEEKLY["iCalUId"]]
    graph.delete_occurrence(TENANT, mailbox, weekly, WEEKLY_DELETED)
    graph.edit_occurrence(TENANT, mailbox, weekly, WEEKLY_MOVED, WEEKLY_MOVED_TO)
    by_id = {e["id"]: e["iCalUId"] for e in graph.events(TENANT, mailbox)}
    return Seeded(ids=ids, uids={uid: by_id[i] for uid, i in ids.items()})


@dataclass
class Tls:
    ca: Path
    cert: Path
    key: Path


def make_tls(root: Path) -> Tls:
    from archive_controlplane.pki import PKI

    pki = PKI(root / "pki")
    serving = pki.issue("graph", "127.0.0.1", server=True, ips=("127.0.0.1",))
    return Tls(ca=Path(pki.ca.cert), cert=Path(serving.cert), key=Path(serving.key))


def graph_env(graph: GraphStandIn, tls: Tls, **extra: str) -> dict[str, str]:
    return {
        "SSL_CERT_FILE": str(tls.ca),
        "ARCHIVE_GRAPH_ENDPOINT": graph.base_url,
        "ARCHIVE_GRAPH_AUTHORITY_HOST": graph.authority_host,
        "ARCHIVE_SOURCE_GRAPH_CLIENT_SECRET": SECRET,
        **extra,
    }


def source_args(mailbox: str = ALICE) -> list[str]:
    return [
        "--user", "alice", "--source-type", "graph", "--source-graph-tenant-id", TENANT,
        "--source-graph-client-id", CLIENT, "--source-graph-mailbox", mailbox,
    ]  # fmt: skip


def graph_archive_args(calendar: str = "Archive", mailbox: str = ARCHIVER) -> list[str]:
    return [
        "--destination-type", "graph", "--destination-graph-mailbox", mailbox,
        "--destination-graph-calendar", calendar,
    ]  # fmt: skip


def archive_uids(graph: GraphStandIn, calendar_id: str, mailbox: str = ARCHIVER) -> dict[str, str]:
    """The archive calendar's copies by UID (their text, from the extended property)."""
    from archive_runner.graph_ical import copy_of

    texts = {}
    for event in graph.events(TENANT, mailbox, calendar_id):
        held = copy_of(event)
        assert held is not None, event
        texts[held[0]] = held[1]
    return copies(texts)


# --- the stand-in as the Graph tests start it ----------------------------------------------------


def standin(tls: Tls) -> Iterator[GraphStandIn]:
    """The stand-in over https with the app (secret, Calendars.ReadWrite) and both mailboxes."""
    with GraphStandIn(tls=(tls.cert, tls.key)) as graph:
        graph.add_app(TENANT, CLIENT, secret=SECRET, roles=("Calendars.ReadWrite",))
        graph.add_mailbox(TENANT, ALICE)
        graph.add_mailbox(TENANT, ARCHIVER)
        yield graph
