"""The operator and the runner agree on which days a scheduled run archives (issue 13).

Each example schedule's CronJobs are rendered by the operator's own renderer; each rendered
container environment is then fed, as the pod would see it, to the runner's own configuration
loader. The days the runner would archive, and the days the operator records on the run's
ArchiveRun, must both be the ones worked out by hand below from the CRD's words: offsetDays is
the FIRST day, relative to the day the run was scheduled for, and the window has `days` days.
"""

from __future__ import annotations

import copy
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from archive_operator.api.schedule import ArchiveSchedule
from archive_operator.errors import SpecError
from archive_operator.lifecycle import scheduled_window
from archive_operator.render import ResolvedEntry, render_cronjobs, resolve_entries
from archive_operator.schedule import load_time_zone, next_run, parse_cron
from archive_runner.config import SETTINGS, RunConfig, load_config
from archive_runner.contract import (
    ENV_CREDENTIALS_DIR,
    ENV_DRY_RUN,
    ENV_JOB_NAME,
    scheduled_job_name,
)

from .test_render import SETTINGS as RENDER_SETTINGS
from .test_render import example_schedules, with_identity

# (CronJob, scheduled instant in UTC, first day, last day), all worked out by hand.
CASES = [
    # alice (Europe/London, daily 23:59, default window offsetDays 0, days 1): Friday
    # 2026-03-13 23:59 GMT (London is on UTC until 29 March) -> that day only.
    ("alice-nightly", datetime(2026, 3, 13, 23, 59), date(2026, 3, 13), date(2026, 3, 13)),
    # bob (America/New_York, mon+fri 18:00, offsetDays -6, days 7): Friday 2026-03-13 18:00
    # EDT (UTC-4, DST began 8 March) = 22:00 UTC -> 13 - 6 = the 7th .. the 13th.
    ("bob-twice-weekly", datetime(2026, 3, 13, 22, 0), date(2026, 3, 7), date(2026, 3, 13)),
    # bob on Monday 2026-03-09 18:00 EDT = 22:00 UTC -> the 3rd .. the 9th (across the DST
    # change on the 8th).
    ("bob-twice-weekly", datetime(2026, 3, 9, 22, 0), date(2026, 3, 3), date(2026, 3, 9)),
    # carol (Asia/Tokyo, UTC+9, offsetDays -1, days 1: the day before the run's day).
    # weeknights "30 2 * * 1-5": Friday 2026-03-13 02:30 JST = Thursday 17:30 UTC -> the 12th
    # (the day before the 13th in Tokyo; the UTC date would give the 11th).
    ("carol-weeknights", datetime(2026, 3, 12, 17, 30), date(2026, 3, 12), date(2026, 3, 12)),
    # sunday-catch-up, Sunday 06:00 plus its jitter (06:08): Sunday 2026-03-15 06:08 JST =
    # Saturday 21:08 UTC -> Saturday the 14th.
    ("carol-sunday-catch-up", datetime(2026, 3, 14, 21, 8), date(2026, 3, 14), date(2026, 3, 14)),
    # hourly: Friday 2026-03-13 08:00 JST = Thursday 23:00 UTC -> Thursday the 12th.
    ("carol-hourly", datetime(2026, 3, 12, 23, 0), date(2026, 3, 12), date(2026, 3, 12)),
    # dana (Europe/Berlin, daily 23:30, offsetDays -1, days 2), a Microsoft 365 mailbox:
    # Sunday 2026-03-29, the day Berlin moved to CEST (UTC+2) at 02:00, 23:30 CEST = 21:30 UTC
    # -> Saturday the 28th .. Sunday the 29th.
    ("dana-nightly", datetime(2026, 3, 29, 21, 30), date(2026, 3, 28), date(2026, 3, 29)),
]


def rendered() -> dict[str, tuple[ArchiveSchedule, ResolvedEntry, dict[str, Any]]]:
    """CronJob name -> (its schedule, its resolved entry, the CronJob) for every example."""
    found = {}
    for doc in example_schedules():
        schedule = with_identity(doc)
        cronjobs = render_cronjobs(schedule, RENDER_SETTINGS)
        for resolved, cronjob in zip(resolve_entries(schedule), cronjobs, strict=True):
            found[cronjob["metadata"]["name"]] = (schedule, resolved, cronjob)
    return found


def pod_env(cronjob: dict[str, Any], job_name: str) -> dict[str, str]:
    """The runner container's environment in a pod of the Job ``job_name``: plain values, and
    the downward-API fields (the pod's job-name label) resolved as the kubelet would."""
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            path = item["valueFrom"]["fieldRef"]["fieldPath"]
            assert path == "metadata.labels['batch.kubernetes.io/job-name']", path
            env[item["name"]] = job_name
    return env


def runner_config(env: dict[str, str], pod_started: datetime) -> RunConfig:
    """What ``archive-runner run`` resolves from this environment (click maps each option to
    its environment variable, SETTINGS), with the credentials Secret mounted as the kubelet
    would: it holds a Graph app's client secret (a graph schedule cannot start without one)."""
    with tempfile.TemporaryDirectory() as mount:
        Path(mount, "client-secret").write_text("an app's secret")
        if ENV_CREDENTIALS_DIR in env:
            env = {**env, ENV_CREDENTIALS_DIR: mount}
        options = {key: env.get(variable) for key, (_, variable) in SETTINGS.items()}
        return load_config(options, env, pod_started, dry_run=env[ENV_DRY_RUN] == "true")


def fires_at(schedule: ArchiveSchedule, resolved: ResolvedEntry, when: datetime) -> bool:
    zone = load_time_zone(schedule.spec.time_zone)
    return next_run(parse_cron(resolved.cron), when - timedelta(minutes=1), zone) == when


def test_every_example_cronjob_is_covered() -> None:
    assert {name for name, *_ in CASES} == set(rendered())


@pytest.mark.parametrize(
    ("cronjob_name", "scheduled", "first", "last"),
    CASES,
    ids=[f"{name}@{when:%m-%dT%H:%M}" for name, when, *_ in CASES],
)
def test_the_runner_and_the_operator_archive_the_days_worked_out_by_hand(
    cronjob_name: str, scheduled: datetime, first: date, last: date
) -> None:
    schedule, resolved, cronjob = rendered()[cronjob_name]
    scheduled = scheduled.replace(tzinfo=UTC)
    assert fires_at(schedule, resolved, scheduled), (resolved.cron, scheduled)
    job_name = scheduled_job_name(cronjob_name, scheduled)
    env = pod_env(cronjob, job_name)
    assert env[ENV_JOB_NAME] == job_name
    # The pod starts late, after midnight UTC and local: the Job's name still decides the day.
    config = runner_config(env, pod_started=scheduled + timedelta(hours=3, minutes=7))
    assert (config.window.start, config.window.end) == (first, last)
    assert config.window.zone.key == schedule.spec.time_zone
    assert scheduled_window(schedule, scheduled, resolved.day_shift) == (first, last)


def jittered_past_midnight(window: dict[str, int]) -> tuple[ArchiveSchedule, ResolvedEntry]:
    """Alice's schedule with a daily 23:59 entry whose jitter moves it past midnight."""
    doc = copy.deepcopy(next(d for d in example_schedules() if d["metadata"]["name"] == "alice"))
    doc["spec"]["window"] = window
    for i in range(16):
        doc["spec"]["schedules"] = [
            {"name": f"e{i}", "daily": {"at": "23:59"}, "jitterMinutes": 59}
        ]
        schedule = with_identity(doc)
        (resolved,) = resolve_entries(schedule)
        if resolved.day_shift == 1:
            return schedule, resolved
    raise AssertionError("no entry name gives a jitter past midnight")


@pytest.mark.parametrize(
    ("window", "first", "last"),
    [
        # Meant for Friday 2026-03-13 23:59: that day, although the run fires on Saturday.
        ({"offsetDays": 0, "days": 1}, date(2026, 3, 13), date(2026, 3, 13)),
        # The week ending on the intended Friday: the 7th .. the 13th.
        ({"offsetDays": -6, "days": 7}, date(2026, 3, 7), date(2026, 3, 13)),
    ],
)
def test_a_run_jittered_past_midnight_archives_the_days_it_was_meant_for(
    window: dict[str, int], first: date, last: date
) -> None:
    schedule, resolved = jittered_past_midnight(window)
    minute, hour = resolved.cron.split()[:2]
    assert hour == "0", resolved.cron
    # Saturday 2026-03-14 00:MM in London (GMT, = UTC).
    scheduled = datetime(2026, 3, 14, 0, int(minute), tzinfo=UTC)
    assert fires_at(schedule, resolved, scheduled)
    (cronjob,) = render_cronjobs(schedule, RENDER_SETTINGS)
    name = cronjob["metadata"]["name"]
    config = runner_config(pod_env(cronjob, scheduled_job_name(name, scheduled)), scheduled)
    assert (config.window.start, config.window.end) == (first, last)
    assert scheduled_window(schedule, scheduled, resolved.day_shift) == (first, last)


def test_the_operator_refuses_a_window_reaching_past_the_run_day() -> None:
    """A schedule stored before the CRD's rule: Ready=False with the field, value and fix."""
    doc = copy.deepcopy(next(d for d in example_schedules() if d["metadata"]["name"] == "alice"))
    doc["spec"]["window"] = {"offsetDays": -2, "days": 7}  # last day -2 + 7 - 1 = +4
    with pytest.raises(SpecError) as caught:
        resolve_entries(with_identity(doc))
    assert caught.value.reason == "InvalidWindow"
    message = str(caught.value)
    assert message.startswith(
        "spec.window: {'offsetDays': -2, 'days': 7} ends 4 day(s) after the run's day"
    )
    assert "use offsetDays -6 or less with days 7" in message


def test_the_runner_waits_within_the_jobs_deadline() -> None:
    """The runner's deadline for waiting out a server's Retry-After is the Job's
    activeDeadlineSeconds (issue 14 item 2): carol's spec.runner sets 1800, alice and bob take
    the installation's default, 3600."""
    expected = {
        "alice-nightly": 3600,
        "bob-twice-weekly": 3600,
        "carol-weeknights": 1800,
        "carol-sunday-catch-up": 1800,
        "carol-hourly": 1800,
        "dana-nightly": 3600,
    }
    scheduled = datetime(2026, 3, 13, 22, 0, tzinfo=UTC)
    for name, (_, _, cronjob) in rendered().items():
        config = runner_config(pod_env(cronjob, scheduled_job_name(name, scheduled)), scheduled)
        assert config.deadline_seconds == expected[name], name
        assert cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == expected[name]
