"""The benchmark's data: N ArchiveSchedules (one entry each) and the CronJobs they stand for.

The schedules vary the way real ones do (daily, weekly and cron entries; several time zones;
some with jitter), so every CronJob differs. The baseline's CronJobs are rendered by the
operator's own pure `render` code from the same schedules, without the ownerReference (the
sandbox, like Kubernetes, garbage-collects a dependent whose owner does not exist).
"""

from __future__ import annotations

from typing import Any

from archive_operator.api.schedule import ArchiveSchedule
from archive_operator.render import render_cronjobs
from archive_operator.settings import Settings

Manifest = dict[str, Any]
GROUP_VERSION = "archive.auriora.io/v1alpha1"
TIME_ZONES = ("UTC", "Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def schedule_name(index: int) -> str:
    return f"user-{index:04d}"


def _entry(index: int) -> Manifest:
    at = f"{(index * 7) % 24:02d}:{(index * 13) % 60:02d}"
    match index % 3:
        case 0:
            entry: Manifest = {"name": "nightly", "daily": {"at": at}}
        case 1:
            days = [WEEKDAYS[index % 7], WEEKDAYS[(index + 3) % 7]]
            entry = {"name": "weekly", "weekly": {"days": days, "at": at}}
        case _:
            entry = {"name": "workdays", "cron": f"{index % 60} {index % 24} * * 1-5"}
    if index % 5 == 0 and "cron" not in entry:
        entry["jitterMinutes"] = 30
    return entry


def schedule(index: int, namespace: str) -> Manifest:
    name = schedule_name(index)
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ArchiveSchedule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "user": f"{name}@example.com",
            "timeZone": TIME_ZONES[index % len(TIME_ZONES)],
            "schedules": [_entry(index)],
            "source": {"caldav": {"url": f"https://cal.example.com/dav/{name}/calendar/"}},
            "destination": {"caldav": {"url": f"https://cal.example.com/dav/{name}/archive/"}},
            "credentialsSecretRef": {"name": f"{name}-calendar"},
        },
    }


def schedules(count: int, namespace: str) -> list[Manifest]:
    return [schedule(i, namespace) for i in range(count)]


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
