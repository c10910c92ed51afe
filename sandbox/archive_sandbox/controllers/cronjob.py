"""The CronJob controller (batch/v1, the "v2" controller of Kubernetes), on the sandbox clock.

Follows pkg/controller/cronjob: the most recent missed schedule time since the last schedule
(or creation) is started, earlier missed ones are skipped; more than 100 missed times give a
`TooManyMissedTimes` warning (and still start the most recent); `startingDeadlineSeconds`
bounds how late a start may be; concurrencyPolicy Allow / Forbid / Replace; `suspend`;
finished Jobs beyond the history limits are deleted oldest first. Jobs are named
`<cronjob>-<scheduled time in minutes since the epoch>`, carry the template's labels and
annotations plus `batch.kubernetes.io/cronjob-scheduled-timestamp`, and a controller
reference. Status: `active`, `lastScheduleTime`, `lastSuccessfulTime`.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from .. import errors as err
from ..clock import Clock, Timers
from ..meta import parse_rfc3339, rfc3339
from ..store import Store
from ..watch import Event
from . import cron
from .base import EventRecorder, WorkQueue
from .job import controller_uid, finished_condition

CRONJOBS, JOBS = ("batch", "cronjobs"), ("batch", "jobs")
COMPONENT = "cronjob-controller"
TOO_MANY_MISSED = 100
CRONJOB_DOCS = "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/"
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def schedule_of(cronjob: dict[str, Any]) -> cron.Schedule:
    spec = cronjob.get("spec") or {}
    return cron.parse(str(spec.get("schedule", "")), spec.get("timeZone"))


def most_recent_schedule_time(
    cronjob: dict[str, Any], now: datetime, schedule: cron.Schedule, use_deadline: bool
) -> tuple[datetime | None, int]:
    """The latest schedule time not after `now` still to start, and how many were missed."""
    status = cronjob.get("status") or {}
    spec = cronjob.get("spec") or {}
    earliest = parse_rfc3339(
        status.get("lastScheduleTime") or cronjob["metadata"]["creationTimestamp"]
    )
    deadline = spec.get("startingDeadlineSeconds")
    if use_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    if t1 is None or now < t1:
        return None, 0
    t2 = schedule.next(t1)
    if t2 is None or now < t2:
        return t1, 1
    between = round((t2 - t1).total_seconds())
    if between < 1:
        return None, 0
    missed = int((now - t1).total_seconds()) // between + 1
    # Start near the end by whole intervals, then let the schedule find the exact last time.
    t = schedule.next(t1 + timedelta(seconds=(missed - 2) * between))
    latest = None
    while t is not None and t <= now:
        latest, t = t, schedule.next(t)
    return latest, missed


def job_name(cronjob: dict[str, Any], scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(
    cronjob: dict[str, Any], scheduled: datetime, schedule: cron.Schedule
) -> dict[str, Any]:
    meta = cronjob["metadata"]
    template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
    template_meta = template.get("metadata") or {}
    zone_time = scheduled.astimezone(schedule.zone) if schedule.zone else scheduled
    annotations = {
        **(template_meta.get("annotations") or {}),
        SCHEDULED_TIMESTAMP: zone_time.isoformat().replace("+00:00", "Z"),
    }
    job_meta: dict[str, Any] = {
        "name": job_name(cronjob, scheduled),
        "namespace": meta["namespace"],
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("labels"):
        job_meta["labels"] = dict(template_meta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": template.get("spec") or {},
    }


def _job_ref(job: dict[str, Any]) -> dict[str, Any]:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": meta["resourceVersion"],
    }


class CronJobController:
    def __init__(self, store: Store, clock: Clock, timers: Timers, events: EventRecorder) -> None:
        self.store = store
        self.clock = clock
        self.timers = timers
        self.events = events
        self.cronjobs_rt = store.resource("batch", "cronjobs")
        self.jobs_rt = store.resource("batch", "jobs")
        self.queue = WorkQueue("cronjob-controller", self._sync)
        self._wakeups: dict[tuple[str, str], datetime] = {}
        store.listeners.append(self._on_event)

    def start(self) -> None:
        self.queue.start()
        for cj in self.store.iter_objects(CRONJOBS):
            self.queue.add((cj["metadata"]["namespace"], cj["metadata"]["name"]))

    async def stop(self) -> None:
        self.store.listeners.remove(self._on_event)
        await self.queue.stop()

    def _on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        if event.key == CRONJOBS and event.type != "DELETED":
            self.queue.add((meta["namespace"], meta["name"]))
        elif event.key == JOBS:
            owner = controller_uid(event.obj, "CronJob")
            cj = self.store.by_uid(owner) if owner else None
            if cj is not None:
                self.queue.add((cj["metadata"]["namespace"], cj["metadata"]["name"]))

    def _wake_at(self, key: tuple[str, str], when: datetime) -> None:
        if self._wakeups.get(key) == when:
            return
        self._wakeups[key] = when
        self.timers.at(when, lambda: self.queue.add(key))

    # --- reconcile -----------------------------------------------------------------------------

    async def _sync(self, key: tuple[str, str]) -> None:
        cj = self.store.peek(CRONJOBS, *key)
        if cj is None:
            self._wakeups.pop(key, None)
            return
        uid = cj["metadata"]["uid"]
        status = copy.deepcopy(cj.get("status") or {})
        jobs = [
            j for j in self.store.iter_objects(JOBS, key[0]) if controller_uid(j, "CronJob") == uid
        ]
        await self._track_jobs(cj, status, jobs)
        if not cj["metadata"].get("deletionTimestamp"):
            await self._schedule(cj, key, status)
        await self._cleanup(cj, jobs)
        if status != (cj.get("status") or {}):
            current = self.store.peek(CRONJOBS, *key)
            if current is not None and current["metadata"]["uid"] == uid:
                await self.store.update(
                    self.cronjobs_rt,
                    key[0],
                    key[1],
                    {**current, "status": status},
                    subresource="status",
                    field_manager=COMPONENT,
                )

    async def _track_jobs(
        self, cj: dict[str, Any], status: dict[str, Any], jobs: list[dict[str, Any]]
    ) -> None:
        active: list[dict[str, Any]] = status.get("active") or []
        active_uids = {ref.get("uid") for ref in active}
        for job in jobs:
            finished = finished_condition(job)
            job_uid = job["metadata"]["uid"]
            if job_uid not in active_uids and not finished:
                await self.events.record(
                    cj,
                    "Warning",
                    "UnexpectedJob",
                    "Saw a job that the controller did not create or forgot: "
                    f"{job['metadata']['name']}",
                    COMPONENT,
                )
            elif job_uid in active_uids and finished:
                active = [ref for ref in active if ref.get("uid") != job_uid]
                await self.events.record(
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, condition: {finished}",
                    COMPONENT,
                )
            if finished == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                if done and (
                    not status.get("lastSuccessfulTime")
                    or parse_rfc3339(done) > parse_rfc3339(status["lastSuccessfulTime"])
                ):
                    status["lastSuccessfulTime"] = done
        existing = {j["metadata"]["uid"] for j in jobs}
        for ref in list(active):
            if ref.get("uid") not in existing:
                active = [r for r in active if r is not ref]
                await self.events.record(
                    cj,
                    "Normal",
                    "MissingJob",
                    f"Active job went missing: {ref.get('name')}",
                    COMPONENT,
                )
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _schedule(
        self, cj: dict[str, Any], key: tuple[str, str], status: dict[str, Any]
    ) -> None:
        spec = cj.get("spec") or {}
        if spec.get("timeZone"):
            try:
                cron.load_zone(spec["timeZone"])
            except cron.CronError as e:
                await self.events.record(
                    cj,
                    "Warning",
                    "UnknownTimeZone",
                    f'invalid timeZone: "{spec["timeZone"]}": {e}',
                    COMPONENT,
                )
                return
        if spec.get("suspend"):
            return
        if "TZ" in str(spec.get("schedule", "")):
            await self.events.record(
                cj,
                "Warning",
                "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{spec.get("schedule")}" is not officially '
                f"supported, see {CRONJOB_DOCS} for more details",
                COMPONENT,
            )
        try:
            schedule = schedule_of(cj)
        except cron.CronError as e:
            await self.events.record(
                cj,
                "Warning",
                "UnparseableSchedule",
                f'unparseable schedule: "{spec.get("schedule")}" : {e}',
                COMPONENT,
            )
            return
        now = self.clock.now()
        view = {**cj, "status": status}
        scheduled, missed = most_recent_schedule_time(view, now, schedule, use_deadline=True)
        self._plan_next(key, view, now, schedule)
        if scheduled is None:
            return
        if missed > TOO_MANY_MISSED:
            await self.events.record(
                cj,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                "check clock skew",
                COMPONENT,
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            await self.events.record(
                cj,
                "Warning",
                "MissSchedule",
                "Missed scheduled time to start a job: "
                f"{scheduled.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
                COMPONENT,
            )
            return
        name = job_name(cj, scheduled)
        active = status.get("active") or []
        if any(ref.get("name") == name for ref in active) or status.get(
            "lastScheduleTime"
        ) == rfc3339(scheduled):
            return
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            await self.events.record(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is "
                "Forbid",
                COMPONENT,
            )
            return
        if policy == "Replace":
            for ref in active:
                job = self.store.peek(JOBS, ref.get("namespace", key[0]), ref.get("name", ""))
                if job is not None:
                    self.store.delete_stored(self.jobs_rt, job, "Background")
                    await self.events.record(
                        cj,
                        "Normal",
                        "SuccessfulDelete",
                        f"Deleted job {ref.get('name')}",
                        COMPONENT,
                    )
            active = []
        try:
            job = await self.store.create(
                self.jobs_rt,
                key[0],
                job_from_template(cj, scheduled, schedule),
                field_manager=COMPONENT,
            )
        except err.ApiError as e:
            if e.code != 409:
                raise
            return  # created by an earlier attempt; the job event brings us back
        await self.events.record(
            cj, "Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}", COMPONENT
        )
        status["active"] = [*active, _job_ref(job)]
        status["lastScheduleTime"] = rfc3339(scheduled)
        self._plan_next(key, {**cj, "status": status}, now, schedule)

    def _plan_next(
        self, key: tuple[str, str], cj: dict[str, Any], now: datetime, schedule: cron.Schedule
    ) -> None:
        latest, _ = most_recent_schedule_time(cj, now, schedule, use_deadline=False)
        status = cj.get("status") or {}
        base = latest or parse_rfc3339(
            status.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"]
        )
        upcoming = schedule.next(max(base, now))
        if upcoming is not None:
            self._wake_at(key, upcoming)

    async def _cleanup(self, cj: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
        spec = cj.get("spec") or {}
        for condition, limit_field in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            done = [
                j
                for j in jobs
                if finished_condition(j) == condition
                and self.store.peek(JOBS, j["metadata"]["namespace"], j["metadata"]["name"])
            ]
            done.sort(
                key=lambda j: (
                    (j.get("status") or {}).get("startTime") is None,
                    (j.get("status") or {}).get("startTime") or "",
                    j["metadata"]["name"],
                )
            )
            for job in done[: max(0, len(done) - int(limit))]:
                current = self.store.peek(
                    JOBS, job["metadata"]["namespace"], job["metadata"]["name"]
                )
                if current is not None and not current["metadata"].get("deletionTimestamp"):
                    self.store.delete_stored(self.jobs_rt, current, "Background")
                    await self.events.record(
                        cj,
                        "Normal",
                        "SuccessfulDelete",
                        f"Deleted job {job['metadata']['name']}",
                        COMPONENT,
                    )
