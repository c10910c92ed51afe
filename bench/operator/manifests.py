"""The benchmark's data: N ArchiveSchedules (one entry each) and the CronJobs they stand for.

The schedules vary the way real ones do (daily, weekly and cron entries; several time zones;
some with jitter), so every CronJob differs. The baseline's CronJobs are rendered by the
operator's own pure `render` code from the same schedules, without the ownerReference (the
sandbox, like Kubernetes, garbage-collects a dependent whose owner does not exist).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from archive_operator.api.schedule import ArchiveSchedule
from archive_operator.render import render_cronjobs
from archive_operator.settings import Settings

Manifest = dict[str, Any]
GROUP_VERSION = "archive.auriora.io/v1alpha1"
TIME_ZONES = ("UTC", "Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUIET_HOURS = 4


def schedule_name(index: int) -> str:
    return f"user-{index:04d}"


def _entry(index: int, zone: str, start: datetime) -> Manifest:
    """Entry ``index``: its first run at least `QUIET_HOURS` after ``start`` (local time in
    ``zone``), spread over 12 hours, so that no run falls due while the benchmark runs (the
    operator would rightly write then: a run to record, or a missed run to report)."""
    minutes = QUIET_HOURS * 60 + (index * 7) % (12 * 60)
    local = (start + timedelta(minutes=minutes)).astimezone(ZoneInfo(zone))
    at = f"{local.hour:02d}:{local.minute:02d}"
    weekday = local.weekday()
    match index % 3:
        case 0:
            entry: Manifest = {"name": "nightly", "daily": {"at": at}}
        case 1:
            days = [WEEKDAYS[weekday], WEEKDAYS[(weekday + 3) % 7]]
            entry = {"name": "weekly", "weekly": {"days": days, "at": at}}
        case _:
            entry = {"name": "workdays", "cron": f"{local.minute} {local.hour} * * 1-5"}
    if index % 5 == 0 and "cron" not in entry:
        entry["jitterMinutes"] = 30
    return entry


def schedule(index: int, namespace: str, start: datetime) -> Manifest:
    name = schedule_name(index)
    zone = TIME_ZONES[index % len(TIME_ZONES)]
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ArchiveSchedule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "user": f"{name}@example.com",
            "timeZone": zone,
            "schedules": [_entry(index, zone, start)],
            "source": {"caldav": {"url": f"https://cal.example.com/dav/{name}/calendar/"}},
            "destination": {"caldav": {"url": f"https://cal.example.com/dav/{name}/archive/"}},
            "credentialsSecretRef": {"name": f"{name}-calendar"},
        },
    }


def secret(index: int, namespace: str) -> Manifest:
    """The credentials Secret schedule ``index`` names, annotated as its user's (the operator
    checks whose it is before it makes the CronJob: ownership.py)."""
    name = schedule_name(index)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"{name}-calendar",
            "namespace": namespace,
            "annotations": {"archive.auriora.io/user": f"{name}@example.com"},
        },
        "stringData": {"username": name, "password": "bench"},
    }


def secrets(count: int, namespace: str) -> list[Manifest]:
    return [secret(i, namespace) for i in range(count)]


def schedules(count: int, namespace: str, start: datetime | None = None) -> list[Manifest]:
    """``count`` schedules whose runs all fall due from `QUIET_HOURS` after ``start`` (now)."""
    start = start or datetime.now(UTC)
    return [schedule(i, namespace, start) for i in range(count)]


def cronjobs(schedule_bodies: list[Manifest], settings: Settings) -> list[Manifest]:
    """The CronJobs the operator makes for these schedules, minus the ownerReference."""
    out: list[Manifest] = []
    for body in schedule_bodies:
        with_uid = {**body, "metadata": {**body["metadata"], "uid": "baseline"}}
        for manifest in render_cronjobs(ArchiveSchedule.from_body(with_uid), settings):
            manifest["metadata"].pop("ownerReferences")
            out.append(manifest)
    return out


def bench_settings() -> Settings:
    """What the operator process runs with (see harness.OperatorProcess)."""
    return Settings(runner_image="archive-runner:bench")
