"""Configuration: one-line errors naming the setting, credentials from env or mounted files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from archive_runner.config import RunConfig, load_config
from archive_runner.errors import ConfigError

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
BASE = {
    "user": "alice",
    "source_url": "https://cal.example.org/alice/work/",
    "destination_url": "https://cal.example.org/alice/archive/",
    "start": "2024-03-01",
    "end": "2024-03-31",
}


def load(env: dict[str, str] | None = None, **options: str | None) -> RunConfig:
    return load_config({**BASE, **options}, env or {}, NOW, dry_run=False)


def error(env: dict[str, str] | None = None, **options: str | None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(env, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults() -> None:
    config = load()
    assert (config.source_type, config.destination_type) == ("caldav", "caldav")
    assert (config.recurrence, config.on_change, config.dry_run) == ("occurrences", "keep", False)
    assert config.window.zone.key == "UTC"
    assert (config.window.start, config.window.end) == (date(2024, 3, 1), date(2024, 3, 31))
    assert config.run_id.startswith("run-")
    assert config.termination_log == Path("/dev/termination-log")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"user": ""}, "--user / ARCHIVE_USER is required"),
        ({"start": "2024-13-01"}, "--start / ARCHIVE_START: '2024-13-01' is not a date"),
        ({"end": "2024-02-01"}, "--end / ARCHIVE_END: '2024-02-01' is before the start"),
        ({"end": None}, "--end / ARCHIVE_END is required"),
        ({"time_zone": "Mars/Olympus"}, "ARCHIVE_TIME_ZONE: 'Mars/Olympus' is not a known IANA"),
        ({"source_type": "ftp"}, "ARCHIVE_SOURCE_TYPE: 'ftp' is not a valid choice"),
        ({"recurrence": "all"}, "ARCHIVE_RECURRENCE: 'all' is not a valid choice"),
        ({"on_change": "delete"}, "ARCHIVE_ON_CHANGE: 'delete' is not a valid choice"),
        ({"source_url": "cal.example.org"}, "ARCHIVE_SOURCE_URL: 'cal.example.org' is not an http"),
        ({"destination_type": "directory"}, "ARCHIVE_DESTINATION_PATH is required"),
        ({"window_days": "7"}, "use either --start/--end or --window-offset-days/--window-days"),
        ({"start": "2000-01-01"}, "makes a 8857-day window"),
        ({"run_id": "bad id!"}, "ARCHIVE_RUN_ID: 'bad id!' is not a valid run id"),
    ],
)
def test_bad_settings_name_the_setting_and_the_fix(
    options: dict[str, str | None], expected: str
) -> None:
    message = error(**options)
    assert expected in message
    assert ";" in message  # "...; <the fix>"


@pytest.mark.parametrize("raw", ["0", "-1", "ten minutes", "nan", "inf"])
def test_a_deadline_that_is_not_seconds_above_zero_names_the_setting_and_the_fix(raw: str) -> None:
    assert error(deadline=raw) == (
        f"--deadline / ARCHIVE_DEADLINE_SECONDS: {raw!r} is not a number of seconds above 0; "
        "use e.g. 600"
    )


def test_the_deadline_defaults_to_600_seconds_and_takes_the_operators_value() -> None:
    assert load().deadline_seconds == 600.0
    assert load(deadline="").deadline_seconds == 600.0
    assert load(deadline="3600").deadline_seconds == 3600.0
    assert load(deadline=" 2.5 ").deadline_seconds == 2.5


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    message = error(source_url="https://alice:hunter2@cal.example.org/alice/work/")
    assert "hunter2" not in message
    assert "contains credentials" in message


def test_relative_window_from_the_job_name_or_reference_time() -> None:
    minute = int(datetime(2024, 3, 9, 23, 59, tzinfo=UTC).timestamp()) // 60
    options = {"start": None, "end": None, "window_offset_days": "0", "window_days": "1"}
    from_job = load({"ARCHIVE_JOB_NAME": f"alice-daily-{minute}"}, **options)
    assert from_job.window.start == date(2024, 3, 9)
    explicit = load(reference_time="2024-02-01T10:00:00+01:00", **options)
    assert explicit.window.start == date(2024, 2, 1)
    assert load(**options).window.start == date(2024, 3, 10)  # now
    assert "ends 1 day(s) after the reference day" in error(
        **{**options, "window_offset_days": "1"}
    )
    assert "is not an RFC 3339 time" in error(**{**options, "reference_time": "yesterday"})


def test_window_offset_days_is_the_first_day() -> None:
    """ARCHIVE_WINDOW_OFFSET_DAYS is the window's first day, relative to the reference day."""
    relative = {"start": None, "end": None, "reference_time": "2024-03-10T12:00:00Z"}
    # Reference day Sunday 2024-03-10 (UTC): first = 10 - 6 = the 4th, last = 4 + 7 - 1 = 10th.
    week = load(window_offset_days="-6", window_days="7", **relative).window
    assert (week.start, week.end) == (date(2024, 3, 4), date(2024, 3, 10))
    # First = 10 - 7 = the 3rd, last = the 9th: the week ending the day before.
    before = load(window_offset_days="-7", window_days="7", **relative).window
    assert (before.start, before.end) == (date(2024, 3, 3), date(2024, 3, 9))


def test_a_window_reaching_past_the_reference_day_names_the_setting_value_and_fix() -> None:
    relative = {"start": None, "end": None}
    # -2 + 7 - 1 = 4 days past the reference day; the largest first day for 7 days is -6.
    message = error(window_offset_days="-2", window_days="7", **relative)
    assert message.startswith("--window-offset-days / ARCHIVE_WINDOW_OFFSET_DAYS: -2 with ")
    assert "--window-days / ARCHIVE_WINDOW_DAYS 7 ends 4 day(s) after the reference day" in message
    assert "use -6 or less" in message
    assert "ends 1 day(s) after" in error(window_offset_days="0", window_days="2", **relative)


def test_credentials_from_env_win_over_files_and_destination_defaults_to_source(
    tmp_path: Path,
) -> None:
    (tmp_path / "username").write_text("file-user\n")
    (tmp_path / "password").write_text("file-pass\n")
    (tmp_path / "destination-token").write_text("dest-token")
    config = load({"ARCHIVE_CREDENTIALS_DIR": str(tmp_path), "ARCHIVE_SOURCE_USERNAME": "env-user"})
    assert config.source_credentials.username == "env-user"
    assert config.source_credentials.password is not None
    assert config.source_credentials.password.get_secret_value() == "file-pass"
    assert config.destination_credentials.token is not None
    assert config.destination_credentials.token.get_secret_value() == "dest-token"
    assert "file-pass" not in repr(config)

    shared = load({"ARCHIVE_SOURCE_USERNAME": "u", "ARCHIVE_SOURCE_PASSWORD": "p"})
    assert shared.destination_credentials == shared.source_credentials


def test_a_username_without_password_is_refused() -> None:
    message = error({"ARCHIVE_SOURCE_USERNAME": "alice"})
    assert "ARCHIVE_SOURCE_PASSWORD is not" in message


def test_a_token_is_sent_as_bearer_and_wins_over_basic() -> None:
    from archive_runner.backends.http import RequestCounter, make_client

    config = load({"ARCHIVE_SOURCE_TOKEN": "tok", "ARCHIVE_SOURCE_USERNAME": "u",
                   "ARCHIVE_SOURCE_PASSWORD": "p"})  # fmt: skip
    with make_client(config.source_credentials, 5, RequestCounter()) as client:
        assert client.headers["Authorization"] == "Bearer tok"
        assert client.auth is None


# --- credentials go only where they were given for (issue 18 item 2) --------------------------

SOURCE_BASIC = {"ARCHIVE_SOURCE_USERNAME": "alice", "ARCHIVE_SOURCE_PASSWORD": "Pa55-source"}


@pytest.mark.parametrize(
    "archive",
    [
        "https://cal.example.org/alice/archive/",
        "https://CAL.Example.org:443/alice/archive/",  # same origin, written differently
    ],
)
def test_the_destination_borrows_the_source_credentials_on_the_same_origin(archive: str) -> None:
    config = load(SOURCE_BASIC, destination_url=archive)
    assert config.destination_credentials == config.source_credentials
    assert config.destination_credentials.username == "alice"
    assert config.destination_credentials_withheld is False


@pytest.mark.parametrize(
    "archive",
    [
        "https://archive.example.net/alice/archive/",  # another host
        "https://cal.example.org:8443/alice/archive/",  # another port
        "https://archive.cal.example.org/alice/archive/",  # a subdomain is another host too
    ],
)
def test_another_origin_gets_no_credentials_of_the_source(archive: str) -> None:
    for env in (SOURCE_BASIC, {"ARCHIVE_SOURCE_TOKEN": "source-T0KEN"}):
        config = load(env, destination_url=archive)
        assert config.destination_credentials.is_empty
        assert config.destination_credentials.kind == "none"
        assert config.destination_credentials_withheld is True
        assert not config.source_credentials.is_empty


def test_another_scheme_is_another_origin() -> None:
    config = load(SOURCE_BASIC, destination_url="http://cal.example.org/alice/archive/")
    assert config.destination_credentials.is_empty  # and so nothing to refuse over http://


def test_a_file_source_lends_its_credentials_to_no_one() -> None:
    config = load(SOURCE_BASIC, source_type="ics", source_url="/data/alice.ics")
    assert config.destination_credentials.is_empty
    assert config.destination_credentials_withheld is True


def test_another_origin_gets_its_own_credentials() -> None:
    env = {**SOURCE_BASIC, "ARCHIVE_DESTINATION_TOKEN": "archive-T0KEN"}
    config = load(env, destination_url="https://archive.example.net/alice/archive/")
    assert config.destination_credentials.kind == "bearer"
    assert config.destination_credentials.token is not None
    assert config.destination_credentials.token.get_secret_value() == "archive-T0KEN"
    assert config.destination_credentials_withheld is False


def test_a_directory_destination_needs_no_credentials() -> None:
    config = load(SOURCE_BASIC, destination_type="directory", destination_path="/archive")
    assert config.destination_credentials.is_empty
    assert config.destination_credentials_withheld is False


OPT_IN = (
    "allow it with --allow-insecure-credentials / ARCHIVE_ALLOW_INSECURE_CREDENTIALS=true "
    "(ArchiveSchedule spec.allowInsecureCredentials: true)"
)


def test_credentials_over_plain_http_are_refused_naming_the_field_the_scheme_and_the_fix() -> None:
    message = error(
        SOURCE_BASIC,
        source_url="http://cal.example.org/alice/work/",
        destination_url="http://cal.example.org/alice/archive/",
    )
    assert message == (
        "--source-url / ARCHIVE_SOURCE_URL (spec.source.caldav.url): "
        "'http://cal.example.org/alice/work/' is plain http://, so the credentials would cross "
        "the network unencrypted; use an https:// URL, or, only on a network you trust, " + OPT_IN
    )
    assert "Pa55-source" not in message


def test_the_destination_own_credentials_over_plain_http_are_refused() -> None:
    env = {**SOURCE_BASIC, "ARCHIVE_DESTINATION_TOKEN": "archive-T0KEN"}
    message = error(env, destination_url="http://archive.example.net/alice/archive/")
    assert message.startswith(
        "--destination-url / ARCHIVE_DESTINATION_URL (spec.destination.caldav.url): "
        "'http://archive.example.net/alice/archive/' is plain http://"
    )
    assert "archive-T0KEN" not in message


def test_a_feed_over_plain_http_with_credentials_is_refused_without_its_query() -> None:
    message = error(
        SOURCE_BASIC,
        source_type="ics",
        source_url="http://feeds.example.org/alice.ics?key=Qu3ry-S3cret",
        destination_type="directory",
        destination_path="/archive",
    )
    assert message.startswith(
        "--source-url / ARCHIVE_SOURCE_URL (spec.source.ics.url): "
        "'http://feeds.example.org/alice.ics' is plain http://"
    )
    assert "Qu3ry-S3cret" not in message and "Pa55-source" not in message


def test_plain_http_is_fine_without_credentials_or_when_opted_in() -> None:
    http = {
        "source_url": "http://cal.example.org/alice/work/",
        "destination_url": "http://cal.example.org/alice/archive/",
    }
    assert load(**http).source_credentials.is_empty
    opted_in = load_config(
        {**BASE, **http}, SOURCE_BASIC, NOW, dry_run=False, allow_insecure_credentials=True
    )
    assert opted_in.allow_insecure_credentials is True
    assert opted_in.destination_credentials.username == "alice"


@pytest.mark.parametrize(
    "host", ["127.0.0.1:5232", "127.8.9.10", "[::1]:5232", "localhost:5232", "LOCALHOST."]
)
def test_loopback_is_exempt_from_the_cleartext_check(host: str) -> None:
    config = load(
        SOURCE_BASIC,
        source_url=f"http://{host}/alice/work/",
        destination_url=f"http://{host}/alice/archive/",
    )
    assert config.destination_credentials.username == "alice"


@pytest.mark.parametrize(
    "host", ["localhost.example.org", "127.0.0.1.nip.io", "10.0.0.1", "[fe80::1]", "0.0.0.0"]
)
def test_only_real_loopback_is_exempt(host: str) -> None:
    message = error(SOURCE_BASIC, source_url=f"http://{host}/alice/work/")
    assert "is plain http://" in message
