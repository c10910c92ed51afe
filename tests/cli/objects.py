"""Fixture objects as the API server returns them (status as the operator writes it)."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]
API = "archive.auriora.io/v1alpha1"


def condition(type_: str, status: str, reason: str, message: str) -> Obj:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2024-12-18T00:00:00Z",
        "observedGeneration": 1,
    }


def schedule(name: str, user: str, *, namespace: str = "default", **spec: Any) -> Obj:
    body: Obj = {
        "apiVersion": API,
        "kind": "ArchiveSchedule",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "creationTimestamp": "2024-12-01T09:00:00Z",
            "generation": 1,
        },
        "spec": {
            "user": user,
            "suspend": False,
            "timeZone": "UTC",
            "schedules": [],
            "source": {"caldav": {"url": f"https://cal.example.com/dav/{name}/calendar/"}},
            "destination": {"caldav": {"url": f"https://cal.example.com/dav/{name}/archive/"}},
            "credentialsSecretRef": {"name": f"{name}-calendar"},
            **spec,
        },
    }
    return body


ALICE = schedule(
    "alice",
    "alice",
    timeZone="Europe/London",
    schedules=[{"name": "nightly", "daily": {"at": "23:59"}}],
)
ALICE["status"] = {
    "observedGeneration": 1,
    "conditions": [
        condition("Ready", "True", "Reconciled", "1 CronJob up to date"),
        condition("Healthy", "True", "RunsSucceeding", "the last run succeeded"),
    ],
    "schedulesSummary": "nightly=daily 23:59",
    "nextRunTime": "2024-12-19T23:59:00Z",
    "schedules": [
        {
            "name": "nightly",
            "cronJobName": "alice-nightly",
            "cron": "59 23 * * *",
            "nextRunTime": "2024-12-19T23:59:00Z",
        }
    ],
    "lastScheduleTime": "2024-12-18T23:59:00Z",
    "lastSuccessfulTime": "2024-12-19T00:00:41Z",
    "consecutiveFailures": 0,
    "lastRun": {
        "name": "alice-nightly-28904159",
        "phase": "Succeeded",
        "completionTime": "2024-12-19T00:00:41Z",
        "counts": {"sourceObjects": 4, "created": 3, "unchanged": 1, "failed": 0},
    },
}

BOB = schedule(
    "bob",
    "bob@example.com",
    timeZone="America/New_York",
    schedules=[{"name": "twice-weekly", "weekly": {"days": ["mon", "fri"], "at": "18:00"}}],
)
BOB["status"] = {
    "conditions": [
        condition("Ready", "True", "Reconciled", "1 CronJob up to date"),
        condition("Healthy", "False", "RunsFailing", "3 runs in a row failed: source unreachable"),
    ],
    "schedulesSummary": "twice-weekly=weekly mon,fri 18:00",
    "nextRunTime": "2024-12-20T23:00:00Z",
    "lastFailureTime": "2024-12-16T23:00:30Z",
    "consecutiveFailures": 3,
    "lastRun": {
        "name": "bob-twice-weekly-28900000",
        "phase": "Failed",
        "completionTime": "2024-12-16T23:00:30Z",
        "counts": {"failed": 1},
    },
}

CAROL = schedule(
    "carol",
    "carol",
    timeZone="Asia/Tokyo",
    suspend=True,
    schedules=[
        {"name": "weeknights", "cron": "30 2 * * 1-5"},
        {"name": "sunday", "weekly": {"days": ["sun"], "at": "06:00"}, "jitterMinutes": 15},
    ],
    source={"ics": {"url": "https://calendar.example.org/carol/public.ics"}},
    destination={"directory": {"claimName": "calendar-archive", "subPath": "carol"}},
)


def run(
    name: str,
    schedule_name: str,
    start: str,
    end: str,
    phase: str | None,
    *,
    trigger: str = "manual",
    created: str = "2024-12-19T09:00:00Z",
    **status: Any,
) -> Obj:
    body: Obj = {
        "apiVersion": API,
        "kind": "ArchiveRun",
        "metadata": {
            "name": name,
            "namespace": "default",
            "creationTimestamp": created,
            "labels": {"archive.auriora.io/schedule": schedule_name},
        },
        "spec": {
            "scheduleRef": {"name": schedule_name},
            "start": start,
            "end": end,
            "trigger": trigger,
            "dryRun": False,
            "requestedBy": "alice-admin",
        },
    }
    if phase:
        body["status"] = {"phase": phase, **status}
    return body


RUNS = [
    run(
        "alice-nightly-28904159",
        "alice",
        "2024-12-18",
        "2024-12-18",
        "Succeeded",
        trigger="scheduled",
        created="2024-12-18T23:59:00Z",
        jobName="alice-nightly-28904159",
        startTime="2024-12-18T23:59:05Z",
        completionTime="2024-12-19T00:00:41Z",
        archived=3,
        counts={"sourceObjects": 4, "created": 3, "unchanged": 1, "failed": 0},
    ),
    run(
        "alice-manual-20241201-abcde",
        "alice",
        "2024-12-01",
        "2024-12-10",
        "PartiallySucceeded",
        created="2024-12-19T08:00:00Z",
        jobName="alice-manual-20241201-abcde",
        startTime="2024-12-19T08:00:02Z",
        completionTime="2024-12-19T08:03:30Z",
        archived=12,
        reason="SomeEventsFailed",
        message="2 events could not be written",
        counts={"created": 12, "failed": 2},
    ),
    run(
        "alice-backfill-20240101-fghij",
        "alice",
        "2024-01-01",
        "2024-11-30",
        None,
        trigger="backfill",
        created="2024-12-19T09:59:00Z",
    ),
    run(
        "bob-twice-weekly-28900000",
        "bob",
        "2024-12-10",
        "2024-12-16",
        "Failed",
        trigger="scheduled",
        created="2024-12-16T23:00:00Z",
        jobName="bob-twice-weekly-28900000",
        startTime="2024-12-16T23:00:02Z",
        completionTime="2024-12-16T23:00:30Z",
        reason="SourceUnreachable",
        message="cal.example.com: connection refused",
    ),
]


def all_objects() -> list[Obj]:
    return copy.deepcopy([ALICE, BOB, CAROL, *RUNS])
