"""The plugin and private feed URLs (issue 18 item 6): a URL whose token would be stored in the
schedule draws a warning naming where the token seems to be (never its value); a URL with
credentials is refused without echoing them; a schedule whose feed URL is in the credentials
Secret (spec.source.ics.urlSecretKey, from -f) is created as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_operator.cli import errors as e

from .conftest import Run

TOKEN = "CANARY-feed-token-4be1d07a"
BASE = ("create", "dave", "--user", "dave", "--destination", "https://cal.example.com/d-arch/")


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (f"https://feeds.example.com/dave.ics?token={TOKEN}", "its query parameter 'token'"),
        (
            f"https://calendar.example.com/ical/dave/private-{TOKEN}/basic.ics",
            "a path segment",
        ),
        ("https://feeds.example.com/f/7d1c0a9e4b2f6813c5a7/dave.ics", "a path segment"),
    ],
)
def test_a_token_in_the_feed_url_draws_a_warning(run_cli: Run, url: str, where: str) -> None:
    done = run_cli(*BASE, "--source-ics", url, objects=[])
    assert done.code == 0, done.err
    assert done.err.startswith(f"warning: --source-ics: {where} looks like a token")
    assert "spec.source.ics.urlSecretKey" in done.err
    assert TOKEN not in done.err


def test_a_plain_feed_url_draws_no_warning(run_cli: Run) -> None:
    done = run_cli(*BASE, "--source-ics", "https://feeds.example.com/dave.ics?tz=UTC", objects=[])
    assert (done.code, done.err) == (0, "")


def test_a_url_with_credentials_is_refused_without_showing_them(run_cli: Run) -> None:
    done = run_cli(
        *BASE, "--source-ics", f"https://dave:{TOKEN}@feeds.example.com/d.ics?key={TOKEN}",
        objects=[],
    )  # fmt: skip
    assert done.code == e.EXIT_USAGE
    assert done.err.startswith(
        'error: --source-ics "https://feeds.example.com/d.ics": not an http(s) URL without '
        "credentials"
    )
    assert TOKEN not in done.err
    assert done.client.calls == []


def test_a_schedule_with_its_feed_url_in_the_secret_is_created_from_a_file(
    run_cli: Run, tmp_path: Path
) -> None:
    path = tmp_path / "dave.yaml"
    path.write_text(
        "kind: ArchiveSchedule\nmetadata: {name: dave}\n"
        "spec:\n  user: dave\n  source: {ics: {urlSecretKey: feed-url}}\n"
        "  destination: {caldav: {url: 'https://cal.example.com/d-arch/'}}\n"
        "  credentialsSecretRef: {name: dave-calendar}\n"
    )
    done = run_cli("create", "-f", str(path), objects=[])
    assert (done.code, done.err) == (0, "")
    body = done.client.objects[("archiveschedules", "default", "dave")]
    assert body["spec"]["source"] == {"ics": {"urlSecretKey": "feed-url"}}


def test_the_detail_view_never_shows_a_feed_token() -> None:
    from datetime import UTC, datetime

    from archive_operator.cli.views import schedule_detail

    def detail(source: dict[str, object]) -> str:
        schedule = {
            "metadata": {"name": "dave", "namespace": "team-a"},
            "spec": {
                "user": "dave",
                "source": source,
                "destination": {"caldav": {"url": "https://u:pw@cal.example.com/d-arch/"}},
            },
        }
        return schedule_detail(schedule, datetime(2026, 12, 1, tzinfo=UTC), colour=False)

    in_secret = detail({"ics": {"urlSecretKey": "feed-url"}})
    assert "iCalendar feed (URL in the credentials Secret, key feed-url)" in in_secret
    in_spec = detail({"ics": {"url": f"https://feeds.example.com/dave.ics?token={TOKEN}"}})
    assert "iCalendar feed https://feeds.example.com/dave.ics?…" in in_spec
    assert TOKEN not in in_spec
    assert "CalDAV https://cal.example.com/d-arch/" in in_spec  # no user info either
    assert "pw@" not in in_spec
