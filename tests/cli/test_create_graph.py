"""`kubectl archive create` with Microsoft 365 calendars (--source-graph, --destination-graph):
the schedule it sends, and the bad input it refuses before any request."""

from __future__ import annotations

import pytest
from archive_operator.cli import errors as e

from .conftest import Run

APP = ["--graph-tenant", "contoso.onmicrosoft.com",
       "--graph-client-id", "00001111-aaaa-2222-bbbb-3333cccc4444"]  # fmt: skip
WHEN = ["--daily", "--at", "23:30"]


def test_create_a_microsoft_365_schedule(run_cli: Run) -> None:
    done = run_cli(
        "create", "dana", "--user", "dana",
        "--source-graph", "dana@contoso.com",
        "--destination-graph", "dana@contoso.com/Archive/2024",  # a name may hold a '/'
        *APP, "--credentials", "dana-m365", *WHEN,
        objects=[],
    )  # fmt: skip

    assert done.code == 0, done.err
    body = done.client.objects[("archiveschedules", "default", "dana")]
    app = {"tenantId": "contoso.onmicrosoft.com",
           "clientId": "00001111-aaaa-2222-bbbb-3333cccc4444"}  # fmt: skip
    assert body["spec"]["source"] == {"graph": {**app, "mailbox": "dana@contoso.com"}}
    assert body["spec"]["destination"] == {
        "graph": {**app, "mailbox": "dana@contoso.com", "calendar": "Archive/2024"}
    }
    assert body["spec"]["credentialsSecretRef"] == {"name": "dana-m365"}


def test_a_caldav_calendar_into_a_microsoft_365_archive(run_cli: Run) -> None:
    done = run_cli(
        "create", "--user", "erin", "--source", "https://cal.example.com/erin/",
        "--destination-graph", "4a3b2c1d-0000-4000-8000-00000000e41e/Old appointments",
        *APP, *WHEN, objects=[],
    )  # fmt: skip

    assert done.code == 0, done.err
    [body] = done.client.objects.values()
    assert body["spec"]["source"] == {"caldav": {"url": "https://cal.example.com/erin/"}}
    graph = body["spec"]["destination"]["graph"]
    assert (graph["mailbox"], graph["calendar"]) == (
        "4a3b2c1d-0000-4000-8000-00000000e41e",
        "Old appointments",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source-graph", "dana@contoso.com", "--destination-pvc", "a", "--credentials", "s"],
         "need --graph-tenant and --graph-client-id"),
        (["--source-graph", "dana@contoso.com", "--destination-pvc", "a",
          "--graph-tenant", "contoso.onmicrosoft.com"],
         "--graph-tenant and --graph-client-id go together"),
        (["--source-graph", "dana@contoso.com", "--destination-pvc", "a", "--credentials", "s",
          "--graph-tenant", "contoso", "--graph-client-id", "00001111-aaaa-2222-bbbb-3333cccc4444"],
         '--graph-tenant "contoso": is not a tenant ID or domain'),
        (["--source-graph", "dana@contoso.com", "--destination-pvc", "a", "--credentials", "s",
          "--graph-tenant", "contoso.onmicrosoft.com", "--graph-client-id", "archive-app"],
         '--graph-client-id "archive-app": is not an application (client) ID'),
        (["--source-graph", "dana", "--destination-pvc", "a", "--credentials", "s", *APP],
         '--source-graph "dana": does not start with a mailbox'),
        (["--source-graph", "dana@contoso_eu.com", "--destination-pvc", "a", "--credentials", "s",
          *APP],
         '--source-graph "dana@contoso_eu.com": does not start with a mailbox'),
        (["--source", "https://cal.example.com/d/", "--destination-graph", "dana@contoso.com",
          *APP],
         '--destination-graph "dana@contoso.com": names no calendar; give MAILBOX/CALENDAR'),
        (["--source", "https://cal.example.com/d/", "--source-graph", "dana@contoso.com",
          "--destination-pvc", "a", "--credentials", "s", *APP],
         "give one source, not more"),
        (["--source-graph", "dana@contoso.com", "--destination-pvc", "a", *APP],
         "--source-graph needs --credentials"),
    ],
    ids=["no-app", "half-app", "tenant", "client-id", "mailbox", "mailbox-domain", "no-calendar",
         "two-sources",
         "no-credentials"],
)  # fmt: skip
def test_bad_graph_input_is_refused_before_any_request(
    run_cli: Run, args: list[str], message: str
) -> None:
    done = run_cli("create", "--user", "dana", *args, *WHEN, objects=[])

    assert done.code == e.EXIT_USAGE
    assert message in done.err
    assert done.client.calls == []
