"""Microsoft Graph places (spec.source.graph, spec.destination.graph) in the runner's Job:
the environment the runner contract names, written out by hand here, and the specs the
operator refuses before any Job exists."""

from __future__ import annotations

from typing import Any

import pytest
from archive_operator.errors import SpecError
from archive_operator.render import render_cronjobs

from .test_render import SETTINGS, runner_env_of, schedule_of

DANA_APP = {
    "tenantId": "contoso.onmicrosoft.com",
    "clientId": "00001111-aaaa-2222-bbbb-3333cccc4444",
}
US_CLOUD = {
    "endpoint": "https://graph.microsoft.us",
    "authorityHost": "https://login.microsoftonline.us",
}


def test_the_runner_gets_each_sides_mailbox_and_calendar_and_no_url() -> None:
    env = runner_env_of(schedule_of("dana"))

    assert env["ARCHIVE_SOURCE_TYPE"] == "graph"
    assert env["ARCHIVE_SOURCE_GRAPH_TENANT_ID"] == "contoso.onmicrosoft.com"
    assert env["ARCHIVE_SOURCE_GRAPH_CLIENT_ID"] == "00001111-aaaa-2222-bbbb-3333cccc4444"
    assert env["ARCHIVE_SOURCE_GRAPH_MAILBOX"] == "dana@contoso.com"
    assert "ARCHIVE_SOURCE_GRAPH_CALENDAR" not in env  # the mailbox's default calendar
    assert env["ARCHIVE_DESTINATION_TYPE"] == "graph"
    assert env["ARCHIVE_DESTINATION_GRAPH_MAILBOX"] == "dana@contoso.com"
    assert env["ARCHIVE_DESTINATION_GRAPH_CALENDAR"] == "Archive"
    assert env["ARCHIVE_CREDENTIALS_DIR"] == "/var/run/secrets/archive"
    # No URL of either side, and the global cloud's hosts are the runner's defaults.
    assert not {"ARCHIVE_SOURCE_URL", "ARCHIVE_DESTINATION_URL", "ARCHIVE_DESTINATION_PATH"} & set(
        env
    )
    assert not {"ARCHIVE_GRAPH_ENDPOINT", "ARCHIVE_GRAPH_AUTHORITY_HOST"} & set(env)


def test_a_national_cloud_reaches_the_runner() -> None:
    source = {"graph": {**DANA_APP, "mailbox": "dana@contoso.com", **US_CLOUD}}
    destination = {
        "graph": {**DANA_APP, "mailbox": "dana@contoso.com", "calendar": "A", **US_CLOUD}
    }

    env = runner_env_of(schedule_of("dana", source=source, destination=destination))

    assert env["ARCHIVE_GRAPH_ENDPOINT"] == "https://graph.microsoft.us"
    assert env["ARCHIVE_GRAPH_AUTHORITY_HOST"] == "https://login.microsoftonline.us"


def test_a_caldav_calendar_archived_into_microsoft_365() -> None:
    env = runner_env_of(
        schedule_of(
            "alice",
            destination={"graph": {**DANA_APP, "mailbox": "alice@contoso.com", "calendar": "Old"}},
        )
    )

    assert env["ARCHIVE_SOURCE_TYPE"] == "caldav"
    assert env["ARCHIVE_SOURCE_URL"] == "https://cal.example.com/dav/alice/calendar/"
    assert env["ARCHIVE_DESTINATION_TYPE"] == "graph"
    assert env["ARCHIVE_DESTINATION_GRAPH_TENANT_ID"] == "contoso.onmicrosoft.com"
    assert env["ARCHIVE_DESTINATION_GRAPH_CALENDAR"] == "Old"
    assert "ARCHIVE_SOURCE_GRAPH_MAILBOX" not in env


@pytest.mark.parametrize(
    ("spec", "reason", "field", "says"),
    [
        (
            {"credentialsSecretRef": None},
            "InvalidSource",
            "spec.source.graph",
            "client-secret",
        ),
        (
            {
                "source": {
                    "graph": {**DANA_APP, "mailbox": "dana@contoso.com", **US_CLOUD},
                }
            },
            "InvalidDestination",
            "spec.destination.graph",
            "https://graph.microsoft.us",
        ),
        ({"recurrence": "series"}, "InvalidDestination", "spec.recurrence", "occurrences"),
    ],
    ids=["no-credentials", "two-clouds", "series-into-graph"],
)
def test_specs_the_operator_refuses_before_any_job(
    spec: dict[str, Any], reason: str, field: str, says: str
) -> None:
    with pytest.raises(SpecError) as caught:
        render_cronjobs(schedule_of("dana", **spec), SETTINGS)

    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"{field}: ")
    assert says in str(caught.value)
