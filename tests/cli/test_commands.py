"""What each command sends to the API (fake client), and that bad input sends nothing."""

from __future__ import annotations

from datetime import date

import pytest
from archive_operator.cli import errors as e
from archive_operator.cli.errors import ApiError

from .conftest import Run
from .fake_client import FakeClient, status
from .objects import all_objects

WRITES = {"create", "patch", "delete"}


def test_create_from_flags_builds_the_schedule(run_cli: Run) -> None:
    done = run_cli(
        "create",
        "--user",
        "Dave.Smith@example.com",
        "--source-ics",
        "https://cal.example.com/dave.ics",
        "--destination-pvc",
        "calendar-archive/dave",
        "--credentials",
        "dave-calendar",
        "--time-zone",
        "Europe/Paris",
        "--weekly",
        "Monday,fri",
        "--at",
        "18:00",
        "--entry",
        "twice",
        "--jitter",
        "5",
        objects=[],
    )
    assert done.code == 0, done.err
    assert done.out == "archiveschedule.archive.auriora.io/dave.smith-example.com created\n"
    [(verb, plural, namespace, _)] = done.client.calls
    assert (verb, plural, namespace) == ("create", "archiveschedules", "default")
    body = done.client.objects[("archiveschedules", "default", "dave.smith-example.com")]
    assert body["apiVersion"] == "archive.auriora.io/v1alpha1"
    assert body["spec"] == {
        "user": "Dave.Smith@example.com",
        "timeZone": "Europe/Paris",
        "source": {"ics": {"url": "https://cal.example.com/dave.ics"}},
        "destination": {"directory": {"claimName": "calendar-archive", "subPath": "dave"}},
        "credentialsSecretRef": {"name": "dave-calendar"},
        "schedules": [
            {"name": "twice", "weekly": {"days": ["mon", "fri"], "at": "18:00"}, "jitterMinutes": 5}
        ],
    }


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Factory", "posix/Europe/London"])
def test_create_refuses_a_time_zone_the_crd_refuses(run_cli: Run, zone: str) -> None:
    done = run_cli(
        "create", "dave", "--user", "dave", "--source", "https://cal.example.com/d/",
        "--destination", "https://cal.example.com/d-archive/", "--time-zone", zone, objects=[],
    )  # fmt: skip
    assert done.code == e.EXIT_USAGE
    assert done.err == (
        f'error: --time-zone "{zone}": not an IANA time zone; e.g. Europe/London or UTC\n'
    )
    assert done.client.calls == []


def test_create_from_a_file_with_flags_overriding(run_cli: Run, tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "alice.yaml"
    path.write_text(
        "apiVersion: archive.auriora.io/v1alpha1\nkind: ArchiveSchedule\n"
        "metadata: {name: alice}\n"
        "spec:\n  user: alice\n  timeZone: UTC\n  recurrence: series\n"
        "  source: {caldav: {url: 'https://a.example/cal/'}}\n"
        "  destination: {caldav: {url: 'https://a.example/archive/'}}\n"
    )
    done = run_cli("create", "-f", str(path), "--time-zone", "Asia/Tokyo", "-o", "name", objects=[])
    assert done.code == 0, done.err
    assert done.out == "archiveschedule.archive.auriora.io/alice\n"
    spec = done.client.objects[("archiveschedules", "default", "alice")]["spec"]
    assert spec["timeZone"] == "Asia/Tokyo"
    assert spec["recurrence"] == "series"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--daily", "--at", "24:00"],
            '--at "24:00": not a 24-hour time HH:MM between 00:00 and 23:59',
        ),
        (["--daily", "--at", "7:30"], '--at "7:30": not a 24-hour time'),
        (["--daily"], "--daily needs --at HH:MM"),
        (["--weekly", "mon,funday", "--at", "18:00"], '--weekly "mon,funday": funday is not a day'),
        (["--cron", "0 25 * * *"], '--cron "0 25 * * *": '),
        (["--cron", "0 2 * *"], "needs five fields"),
        (["--cron", "CRON_TZ=UTC 0 2 * * *"], "set --time-zone instead"),
        (["--cron", "@every 1h"], "unknown macro"),
        (
            ["--cron", "0 0 30-31 2 *"],
            '--cron "0 0 30-31 2 *": never fires: February has no day 30 or 31 (February has at '
            "most 29 days; April, June, September and November 30); use a day of the month "
            'every month named has, e.g. "0 0 28 2 *"',
        ),
        (["--cron", "0 0 31 4,6 ?"], "never fires: April and June have no day 31"),
        (["--daily", "--weekly", "mon", "--at", "10:00"], "choose one of --daily or --weekly"),
        (["--cron", "@daily", "--at", "10:00"], "--at does not go with --cron"),
        (
            ["--daily", "--at", "10:00", "--entry", "Night_ly"],
            '--entry "Night_ly": not a lowercase DNS label',
        ),
        ([], "choose when: --daily --at HH:MM"),
    ],
)
def test_schedule_rejects_bad_input_before_any_request(
    run_cli: Run, args: list[str], message: str
) -> None:
    done = run_cli("schedule", "alice", *args)
    assert done.code == e.EXIT_USAGE
    assert message in done.err
    assert done.err.startswith("error: ")
    assert done.err.count("\n") == 1
    assert done.client.calls == []


def test_schedule_adds_and_replaces_entries_with_optimistic_concurrency(run_cli: Run) -> None:
    client = FakeClient(all_objects())
    done = run_cli("schedule", "alice", "--weekly", "mon,fri", "--at", "18:00", client=client)
    assert done.code == 0, done.err
    assert done.out.endswith('entry "weekly" added (weekly mon,fri 18:00)\n')
    assert client.last_patch["metadata"]["resourceVersion"]  # a stale read fails with 409
    done = run_cli(
        "schedule",
        "--user",
        "alice",
        "--daily",
        "--at",
        "06:30",
        "--entry",
        "nightly",
        client=client,
    )
    assert 'entry "nightly" replaced (daily 06:30)' in done.out
    entries = client.objects[("archiveschedules", "default", "alice")]["spec"]["schedules"]
    assert entries == [
        {"name": "nightly", "daily": {"at": "06:30"}},
        {"name": "weekly", "weekly": {"days": ["mon", "fri"], "at": "18:00"}},
    ]
    assert [c[0] for c in client.calls] == ["get", "patch", "list", "patch"]


def test_unschedule_removes_one_entry_and_suggests_names(run_cli: Run) -> None:
    done = run_cli("unschedule", "alice", "--entry", "nightly")
    assert done.code == 0, done.err
    assert done.client.objects[("archiveschedules", "default", "alice")]["spec"]["schedules"] == []
    done = run_cli("unschedule", "alice", "--entry", "nighty")
    assert done.code == e.EXIT_NOT_FOUND
    assert 'has no entry "nighty" (entries: nightly); did you mean "nightly"?' in done.err
    assert done.client.writes() == []


def test_suspend_and_resume_patch_one_field_in_one_call(run_cli: Run) -> None:
    done = run_cli("suspend", "alice")
    assert done.out == "archiveschedule.archive.auriora.io/alice suspended\n"
    assert done.client.calls == [("patch", "archiveschedules", "default", "alice")]
    assert done.client.last_patch == {"spec": {"suspend": True}}
    done = run_cli("resume", "--user", "carol")
    assert done.client.objects[("archiveschedules", "default", "carol")]["spec"]["suspend"] is False


def test_unknown_schedule_and_user_suggest_close_names(run_cli: Run) -> None:
    done = run_cli("suspend", "alcie")
    assert done.code == e.EXIT_NOT_FOUND
    assert (
        done.err
        == 'error: schedule "alcie" not found in namespace "default"; did you mean "alice"?\n'
    )
    done = run_cli("trigger", "--user", "bob@example.org")
    assert done.code == e.EXIT_NOT_FOUND
    assert 'no schedule for user "bob@example.org"' in done.err
    assert 'did you mean "bob@example.com"?' in done.err
    assert done.client.writes() == []


def test_trigger_defaults_to_yesterday_in_the_schedule_time_zone(run_cli: Run) -> None:
    # 10:00 UTC on 19 Dec is already 00:00 on 20 Dec at UTC+14: yesterday there is the 19th.
    from .objects import schedule

    tokyo = schedule("kenji", "kenji", timeZone="Pacific/Kiritimati")
    from .conftest import NOW

    done = run_cli("trigger", "kenji", objects=[tokyo])
    assert done.code == 0, done.err
    run = next(o for k, o in done.client.objects.items() if k[0] == "archiveruns")
    assert NOW.date() == date(2024, 12, 19)
    assert run["spec"] == {
        "scheduleRef": {"name": "kenji"},
        "start": "2024-12-19",
        "end": "2024-12-19",
        "trigger": "manual",
        "dryRun": False,
        "requestedBy": "alice-admin",
    }
    meta = run["metadata"]
    assert meta["name"].startswith("kenji-manual-20241219-")
    assert meta["labels"] == {
        "archive.auriora.io/schedule": "kenji",
        "archive.auriora.io/user": "kenji",
        "archive.auriora.io/trigger": "manual",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "archive.auriora.io/v1alpha1",
            "kind": "ArchiveSchedule",
            "name": "kenji",
            "uid": "uid-kenji",
        }
    ]
    assert (
        done.out
        == f"archiverun.archive.auriora.io/{meta['name']} created: 2024-12-19 to 2024-12-19\n"
    )
    assert [c[0] for c in done.client.calls] == ["get", "create"]


def test_trigger_range_dry_run_and_output(run_cli: Run) -> None:
    done = run_cli(
        "trigger",
        "alice",
        "--start",
        "2024-12-01",
        "--end",
        "2024-12-03",
        "--dry-run",
        "-o",
        "yaml",
    )
    assert done.code == 0, done.err
    assert (
        "dryRun: true" in done.out
        and "start: '2024-12-01'" in done.out
        and "end: '2024-12-03'" in done.out
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start", "2024-12-18", "--end", "2024-12-01"],
            "--end 2024-12-01 is before --start 2024-12-18",
        ),
        (["--start", "2024-13-01"], '--start "2024-13-01": not a date YYYY-MM-DD'),
        (["--end", "18/12/2024"], '--end "18/12/2024": not a date'),
        (
            ["--start", "2023-01-01", "--end", "2024-01-02"],
            "covers 367 days, more than a run may (366)",
        ),
        (["--timeout", "soon"], '--timeout "soon": not a duration'),
    ],
)
def test_trigger_bad_input_changes_nothing(run_cli: Run, args: list[str], message: str) -> None:
    done = run_cli("trigger", "alice", *args)
    assert done.code == e.EXIT_USAGE
    assert message in done.err
    assert done.client.calls == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (  # alice is in Europe/London, where it is 2024-12-19 (10:00 UTC)
            ["--start", "2024-12-18", "--end", "2024-12-20"],
            'error: --end "2024-12-20": after today (2024-12-19 in Europe/London): a run '
            "archives only days that have begun; use --end 2024-12-19 (today) or earlier\n",
        ),
        (  # --end defaults to --start, so --start is the flag to change
            ["--start", "2999-12-01"],
            'error: --start "2999-12-01": after today (2024-12-19 in Europe/London): a run '
            "archives only days that have begun; use --start 2024-12-19 (today) or earlier\n",
        ),
        (
            ["--end", "2025-01-01", "--dry-run"],
            'error: --end "2025-01-01": after today (2024-12-19 in Europe/London): a run '
            "archives only days that have begun; use --end 2024-12-19 (today) or earlier\n",
        ),
    ],
)
def test_trigger_refuses_a_range_ending_after_today(
    run_cli: Run, args: list[str], message: str
) -> None:
    done = run_cli("trigger", "alice", *args)
    assert done.code == e.EXIT_USAGE
    assert done.err == message
    assert done.client.calls == [("get", "archiveschedules", "default", "alice")]  # no create


def test_today_is_judged_in_the_schedule_time_zone(run_cli: Run) -> None:
    from .objects import schedule

    # 10:00 UTC on 19 Dec: already the 20th at UTC+14, still the 19th at UTC-10.
    kiritimati = schedule("kenji", "kenji", timeZone="Pacific/Kiritimati")
    honolulu = schedule("lani", "lani", timeZone="Pacific/Honolulu")
    objects = [kiritimati, honolulu]
    done = run_cli("trigger", "kenji", "--start", "2024-12-20", objects=objects)
    assert done.code == 0, done.err
    done = run_cli("trigger", "lani", "--start", "2024-12-20", objects=objects)
    assert done.code == e.EXIT_USAGE
    assert "after today (2024-12-19 in Pacific/Honolulu)" in done.err
    assert [c[0] for c in done.client.calls] == ["get"]
    done = run_cli("trigger", "lani", "--start", "today", objects=objects)
    assert done.code == 0, done.err  # today has begun: it may be archived


def test_backfill_refuses_an_end_after_today(run_cli: Run) -> None:
    done = run_cli("backfill", "alice", "--start", "2024-01-01", "--end", "2025-06-30")
    assert done.code == e.EXIT_USAGE
    assert done.err == (
        'error: --end "2025-06-30": after today (2024-12-19 in Europe/London): a run archives '
        "only days that have begun; use --end 2024-12-19 (today) or earlier\n"
    )
    assert [c[0] for c in done.client.calls] == ["get"]


def test_a_run_may_cover_exactly_366_days(run_cli: Run) -> None:
    # 2023-12-19 to 2024-12-18 inclusive: 366 days (2024 has a 29 February), ending yesterday.
    done = run_cli("trigger", "alice", "--start", "2023-12-19", "--end", "2024-12-18")
    assert done.code == 0, done.err


def test_backfill_splits_into_runs_of_at_most_366_days(run_cli: Run) -> None:
    done = run_cli(
        "backfill",
        "alice",
        "--start",
        "2020-01-01",
        "--end",
        "2024-12-18",
        objects=all_objects()[:1],
    )
    assert done.code == 0, done.err
    runs = sorted(
        (o["spec"]["start"], o["spec"]["end"], o["spec"]["trigger"])
        for k, o in done.client.objects.items()
        if k[0] == "archiveruns"
    )
    assert runs == [
        ("2020-01-01", "2020-12-31", "backfill"),
        ("2021-01-01", "2022-01-01", "backfill"),
        ("2022-01-02", "2023-01-02", "backfill"),
        ("2023-01-03", "2024-01-03", "backfill"),
        ("2024-01-04", "2024-12-18", "backfill"),
    ]
    assert done.out.count("created:") == 5


def test_backfill_days_per_run_and_default_end(run_cli: Run) -> None:
    done = run_cli(
        "backfill", "alice", "--start", "2024-12-01", "--days-per-run", "7", "-o", "name"
    )
    assert done.code == 0, done.err
    names = done.out.split()
    assert len(names) == 3  # 1-7, 8-14, 15-18 (yesterday in London)
    assert all(n.startswith("archiverun.archive.auriora.io/alice-backfill-202412") for n in names)


def test_backfill_bad_range_and_chunk(run_cli: Run) -> None:
    assert (
        run_cli("backfill", "alice", "--start", "2024-12-10", "--end", "2024-12-01").client.calls
        == []
    )
    done = run_cli("backfill", "alice", "--start", "2024-01-01", "--days-per-run", "400")
    assert done.code == e.EXIT_USAGE and "--days-per-run" in done.err
    assert done.client.calls == []


def test_remove_needs_confirmation_off_a_terminal(run_cli: Run) -> None:
    done = run_cli("remove", "alice")
    assert done.code == e.EXIT_NOT_CONFIRMED
    assert (
        done.err
        == "error: refusing to remove without confirmation: not on a terminal; pass --yes\n"
    )
    assert done.client.calls == []


def test_remove_asks_on_a_terminal(run_cli: Run) -> None:
    declined = run_cli("remove", "alice", tty=True, input="n\n")
    assert declined.code == e.EXIT_NOT_CONFIRMED
    assert "with all its CronJobs, Jobs and ArchiveRuns? [y/N]" in declined.out
    assert declined.client.writes() == []
    accepted = run_cli("remove", "alice", tty=True, input="y\n")
    assert accepted.code == 0
    assert accepted.client.writes() == [("delete", "archiveschedules", "default", "alice")]


def test_remove_with_yes_deletes_by_user(run_cli: Run) -> None:
    done = run_cli("remove", "--user", "bob@example.com", "--yes")
    assert done.code == 0
    assert 'archiveschedule.archive.auriora.io "bob" deleted' in done.out
    assert ("archiveschedules", "default", "bob") not in done.client.objects


def test_name_and_user_are_exclusive(run_cli: Run) -> None:
    done = run_cli("suspend", "alice", "--user", "alice")
    assert done.code == e.EXIT_USAGE
    assert done.err == "error: give a schedule NAME or --user, not both\n"
    assert run_cli("trigger").code == e.EXIT_USAGE


def test_server_rejections_are_one_readable_line(run_cli: Run) -> None:
    client = FakeClient(all_objects())
    client.fail["patch"] = ApiError(
        422,
        status(
            422,
            "Invalid",
            'ArchiveSchedule.archive.auriora.io "alice" is invalid: [...]',
            kind="ArchiveSchedule",
            causes=[
                {
                    "field": "spec.schedules[0].name",
                    "reason": "FieldValueInvalid",
                    "message": 'Invalid value: "string": schedule entry names must be unique',
                }
            ],
        ),
        verb="patch",
        resource="archiveschedules.archive.auriora.io",
        namespace="default",
        name="alice",
    )
    done = run_cli("suspend", "alice", client=client)
    assert done.code == e.EXIT_INVALID
    assert done.err == (
        'error: ArchiveSchedule "alice" is invalid: spec.schedules[0].name: '
        'Invalid value: "string": schedule entry names must be unique\n'
    )


def test_forbidden_names_the_verb_and_resource(run_cli: Run) -> None:
    client = FakeClient(all_objects())
    client.fail["create"] = ApiError(
        403,
        status(403, "Forbidden", 'archiveruns is forbidden: User "x" cannot create ...'),
        verb="create",
        resource="archiveruns.archive.auriora.io",
        namespace="default",
        name=None,
    )
    done = run_cli("trigger", "alice", client=client)
    assert done.code == e.EXIT_FORBIDDEN
    assert done.err == (
        'error: forbidden: you may not create archiveruns.archive.auriora.io in namespace "default"'
        " (ask an admin for RBAC permission to create archiveruns.archive.auriora.io)\n"
    )


def test_logs_follow_the_run_to_its_pod(run_cli: Run) -> None:
    objects = all_objects()
    objects.append(
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "alice-nightly-28904159-x1",
                "namespace": "default",
                "labels": {"batch.kubernetes.io/job-name": "alice-nightly-28904159"},
            },
        }
    )
    client = FakeClient(objects)
    client.logs["alice-nightly-28904159-x1"] = b'{"created": 3}\n'
    done = run_cli("logs", "alice-nightly-28904159", client=client)
    assert done.code == 0, done.err
    assert done.out == '{"created": 3}\n'
    assert client.calls == [
        ("get", "archiveruns", "default", "alice-nightly-28904159"),
        ("list", "pods", "default", None),
        ("log", "pods", "default", "alice-nightly-28904159-x1"),
    ]


@pytest.mark.parametrize(
    ("phase", "reason", "message", "code"),
    [
        (
            "Failed",
            "InvalidRange",
            "spec.end: '2999-12-31' is after today (2024-12-19 in Europe/London); archive only "
            "days that have begun",
            e.EXIT_RUN_FAILED,
        ),
        (
            "Skipped",
            "ConcurrencyForbidden",
            "another run of alice was running",
            e.EXIT_RUN_SKIPPED,
        ),
    ],
)
def test_logs_of_a_run_that_ended_without_a_job_say_why(
    run_cli: Run, phase: str, reason: str, message: str, code: int
) -> None:
    from .objects import run

    objects = all_objects()
    objects.append(
        run(
            "alice-manual-29991201-zzzzz",
            "alice",
            "2999-12-01",
            "2999-12-31",
            phase,
            reason=reason,
            message=message,
        )
    )
    done = run_cli("logs", "alice-manual-29991201-zzzzz", objects=objects)
    assert done.code == code
    assert done.err == (
        f'error: run "alice-manual-29991201-zzzzz" is {phase} and never had a Job, so there is '
        f"no log: {reason}: {message}\n"
    )
    assert done.out == ""
    # One GET, and no waiting: no pods listed, no log requested.
    assert done.client.calls == [("get", "archiveruns", "default", "alice-manual-29991201-zzzzz")]


def test_logs_explain_a_run_without_a_job_or_pods(run_cli: Run) -> None:
    done = run_cli("logs", "--schedule", "alice")  # newest run: the pending backfill
    assert done.code == e.EXIT_NOT_FOUND
    assert 'run "alice-backfill-20240101-fghij" has no Job yet (phase Pending)' in done.err
    done = run_cli("logs", "bob-twice-weekly-28900000")
    assert done.code == e.EXIT_NOT_FOUND and "are gone" in done.err
    done = run_cli("logs", "alice-nightly-2890415")
    assert 'did you mean "alice-nightly-28904159"?' in done.err


# --- old-CLI habits and messages (issue 15) -----------------------------------------------------


def test_schedule_for_a_user_without_one_gives_the_create_command_to_type(run_cli: Run) -> None:
    """`admin-assistant jobs schedule --user 1 ...` made the user's job; here it needs create."""
    done = run_cli("schedule", "--user", "1", "--daily", "--at", "23:59")
    assert done.code == e.EXIT_NOT_FOUND
    assert done.err == (
        'error: no schedule for user "1" in namespace "default"; schedule adds an entry to an'
        " existing schedule, so create the user's schedule with this entry instead: kubectl"
        " archive create --user 1 --source URL --destination URL --credentials SECRET --daily"
        " --at 23:59\n"
    )
    assert done.client.writes() == []


def test_schedule_for_a_missing_name_keeps_the_entry_flags_and_namespace(run_cli: Run) -> None:
    done = run_cli(
        "schedule", "dave", "-n", "team", "--cron", "30 2 * * 1-5", "--entry", "weeknights",
        "--jitter", "5",
    )  # fmt: skip
    assert done.code == e.EXIT_NOT_FOUND
    assert done.err.startswith('error: schedule "dave" not found in namespace "team"; ')
    assert done.err.endswith(
        ": kubectl archive create dave --user USER --source URL --destination URL --credentials"
        " SECRET --cron '30 2 * * 1-5' --entry weeknights --jitter 5 -n team\n"
    )
    assert done.client.writes() == []


def test_remove_accepts_the_old_confirm_flag_as_yes(run_cli: Run) -> None:
    done = run_cli("remove", "--user", "bob@example.com", "--confirm")
    assert done.code == 0, done.err
    assert done.client.writes() == [("delete", "archiveschedules", "default", "bob")]


@pytest.mark.parametrize(
    ("user", "why"),
    [
        ("Zoë", "('ë' is not one of them)"),
        ("José@example.com", "('é' is not one of them)"),
        ("_bob", "('_' cannot start it)"),
    ],
)
def test_a_user_outside_the_rule_is_told_the_rule_is_ascii(
    run_cli: Run, user: str, why: str
) -> None:
    done = run_cli(
        "create", "zoe", "--user", user, "--source", "https://cal.example.com/z/",
        "--destination", "https://cal.example.com/z-archive/", objects=[],
    )  # fmt: skip
    assert done.code == e.EXIT_USAGE
    assert done.err == (
        f'error: --user "{user}": a user starts with a letter or digit and has only ASCII letters'
        f" (A-Z, a-z), digits and . _ @ + - {why}; e.g. alice or alice@example.com\n"
    )
    assert done.client.calls == []


def test_last_run_means_the_last_finished_run_in_the_plugin_and_in_kubectl_get() -> None:
    """One meaning for LAST RUN: status.lastRun (any trigger, manual runs too) and when it
    completed, in `kubectl archive status` and in the CRD's column of `kubectl get`."""
    from datetime import UTC, datetime
    from pathlib import Path

    import yaml
    from archive_operator.cli.views import last_run_cell

    from .objects import schedule

    now = datetime(2024, 12, 19, 10, 0, tzinfo=UTC)
    manual_only = schedule("dave", "dave")
    manual_only["status"] = {
        "lastRun": {
            "name": "dave-manual-20241218-x7k2p",
            "phase": "Succeeded",
            "completionTime": "2024-12-19T09:55:00Z",
        }
    }
    assert last_run_cell(manual_only, now) == "Succeeded 5m ago"
    # A scheduled run that started but has not finished is not the last run (ACTIVE shows it).
    running = schedule("erin", "erin")
    running["status"] = {"lastScheduleTime": "2024-12-19T09:59:00Z", "activeRuns": ["erin-1"]}
    assert last_run_cell(running, now) == "<none>"

    root = Path(__file__).resolve().parents[2]
    for crd in (
        root / "crds" / "archive.auriora.io_archiveschedules.yaml",
        root / "charts" / "archive-operator" / "crds" / "archive.auriora.io_archiveschedules.yaml",
    ):
        [version] = yaml.safe_load(crd.read_text())["spec"]["versions"]
        [column] = [c for c in version["additionalPrinterColumns"] if c["name"] == "Last Run"]
        assert column["jsonPath"] == ".status.lastRun.completionTime", crd
        assert column["type"] == "date"
