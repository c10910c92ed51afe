"""The Job controller (batch/v1), for non-indexed Jobs, on the sandbox clock.

Creates Pods from the template (owner reference; labels `batch.kubernetes.io/controller-uid`,
`controller-uid`, `batch.kubernetes.io/job-name`, `job-name`), counts finished Pods once each,
re-creates failed ones after the exponential back-off (10s, 20s, 40s ... capped at 6 min) until
`backoffLimit` is exceeded, applies `podFailurePolicy` rules (FailJob, Ignore, Count) on exit
codes and pod conditions, fails the Job after `activeDeadlineSeconds`, honours `suspend`, and
deletes finished Jobs after `ttlSecondsAfterFinished` (as the TTL-after-finished controller does,
with foreground propagation). Terminal conditions come after their interim ones, as since
Kubernetes 1.31: SuccessCriteriaMet then Complete, FailureTarget then Failed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock, Timers
from ..meta import parse_rfc3339, rfc3339
from ..store import Store
from ..watch import Event
from .base import EventRecorder, WorkQueue

JOBS, PODS = ("batch", "jobs"), ("", "pods")
COMPONENT = "job-controller"
BACKOFF_BASE, BACKOFF_MAX = 10.0, 360.0
TERMINAL = ("Succeeded", "Failed")


def controller_uid(obj: dict[str, Any], kind: str) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            return str(ref.get("uid"))
    return None


def finished_condition(job: dict[str, Any]) -> str | None:
    """ "Complete" or "Failed" when the Job is finished, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def match_failure_rule(
    policy: dict[str, Any], pod: dict[str, Any]
) -> tuple[int, dict[str, Any], str] | None:
    """The first podFailurePolicy rule a failed pod matches: (index, rule, why), or None."""
    status = pod.get("status") or {}
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    ref = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if hit := _exit_code_match(rule.get("onExitCodes") or {}, statuses):
            container, code = hit
            why = f"Container {container} for pod {ref} failed with exit code {code}"
            return index, rule, f"{why} matching {action} rule at index {index}"
        if matched := _condition_match(rule.get("onPodConditions") or [], status):
            why = f"Pod {ref} has condition {matched}"
            return index, rule, f"{why} matching {action} rule at index {index}"
    return None


def _exit_code_match(
    on_codes: dict[str, Any], statuses: list[dict[str, Any]]
) -> tuple[str, int] | None:
    """(container, exit code) of the first non-zero exit the requirement selects."""
    if not on_codes:
        return None
    values = set(on_codes.get("values") or [])
    wanted_in = on_codes.get("operator", "In") == "In"
    for cs in statuses:
        code = ((cs.get("state") or {}).get("terminated") or {}).get("exitCode", 0)
        if code == 0 or on_codes.get("containerName") not in (None, cs.get("name")):
            continue
        if (code in values) == wanted_in:
            return str(cs.get("name")), int(code)
    return None


def _condition_match(wanted: list[dict[str, Any]], status: dict[str, Any]) -> str | None:
    for want in wanted:
        for cond in status.get("conditions") or []:
            same_type = cond.get("type") == want.get("type")
            if same_type and cond.get("status") == want.get("status", "True"):
                return str(cond["type"])
    return None


@dataclass
class Tally:
    """What the controller has counted for one Job (Kubernetes keeps this with pod finalizers)."""

    counted: set[str] = field(default_factory=set)
    deleted: list[dict[str, Any]] = field(default_factory=list)  # pods gone since the last sync
    quiet: set[str] = field(default_factory=set)  # pods we deleted that must not count (suspend)
    last_failure: datetime | None = None


class JobController:
    def __init__(self, store: Store, clock: Clock, timers: Timers, events: EventRecorder) -> None:
        self.store = store
        self.clock = clock
        self.timers = timers
        self.events = events
        self.jobs_rt = store.resource("batch", "jobs")
        self.pods_rt = store.resource("", "pods")
        self.tallies: dict[str, Tally] = {}
        self.queue = WorkQueue("job-controller", self._sync)
        store.listeners.append(self._on_event)

    def start(self) -> None:
        self.queue.start()
        for job in self.store.iter_objects(JOBS):
            self.queue.add((job["metadata"]["namespace"], job["metadata"]["name"]))

    async def stop(self) -> None:
        self.store.listeners.remove(self._on_event)
        await self.queue.stop()

    def _on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        if event.key == JOBS:
            if event.type == "DELETED":
                self.tallies.pop(meta["uid"], None)
            else:
                self.queue.add((meta["namespace"], meta["name"]))
        elif event.key == PODS:
            owner = controller_uid(event.obj, "Job")
            job = self.store.by_uid(owner) if owner else None
            if job is None or owner is None:
                return
            if event.type == "DELETED":
                self.tallies.setdefault(owner, Tally()).deleted.append(event.obj)
            self.queue.add((job["metadata"]["namespace"], job["metadata"]["name"]))

    def _later(self, when: datetime, key: tuple[str, str]) -> None:
        self.timers.at(when, lambda: self.queue.add(key))

    # --- reconcile ---------------------------------------------------------------------------

    async def _sync(self, key: tuple[str, str]) -> None:
        job = self.store.peek(JOBS, *key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        now = self.clock.now()
        if finished_condition(job):
            await self._expire(job, key, now)
            return
        spec = job.get("spec") or {}
        uid = job["metadata"]["uid"]
        tally = self.tallies.setdefault(uid, Tally())
        pods = [p for p in self.store.iter_objects(PODS, key[0]) if controller_uid(p, "Job") == uid]
        old_status = job.get("status") or {}
        status = copy.deepcopy(old_status)
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        succeeded, failed = int(status.get("succeeded", 0)), int(status.get("failed", 0))
        fail_job: tuple[str, str] | None = None

        # Count each finished (or vanished) pod once.
        gone, tally.deleted = tally.deleted, []
        finished = [p for p in pods if (p.get("status") or {}).get("phase") in TERMINAL]
        for pod in [*finished, *gone]:
            pod_uid = pod["metadata"]["uid"]
            if pod_uid in tally.counted:
                continue
            tally.counted.add(pod_uid)
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                succeeded += 1
                continue
            if pod_uid in tally.quiet:
                continue
            matched = (
                match_failure_rule(spec.get("podFailurePolicy") or {}, pod)
                if phase == "Failed"
                else None
            )
            action = matched[1].get("action") if matched else "Count"
            if action == "Ignore":
                continue
            failed += 1
            tally.last_failure = now
            if action == "FailJob" and matched and fail_job is None:
                fail_job = ("PodFailurePolicy", matched[2])
        active = [
            p
            for p in pods
            if (p.get("status") or {}).get("phase") not in TERMINAL
            and not p["metadata"].get("deletionTimestamp")
        ]

        suspended = bool(spec.get("suspend"))
        was_suspended = any(
            c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions
        )
        if suspended:
            for pod in active:
                tally.quiet.add(pod["metadata"]["uid"])
                await self._delete_pod(job, pod)
            active = []
            if not was_suspended:
                conditions = _set_condition(
                    conditions, "Suspended", "True", "JobSuspended", "Job suspended", now
                )
                await self.events.record(job, "Normal", "Suspended", "Job suspended", COMPONENT)
            status.pop("startTime", None)
        elif was_suspended:
            conditions = _set_condition(
                conditions, "Suspended", "False", "JobResumed", "Job resumed", now
            )
            status["startTime"] = rfc3339(now)
            await self.events.record(job, "Normal", "Resumed", "Job resumed", COMPONENT)

        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", 6))
        restarts = sum(
            cs.get("restartCount", 0)
            for p in active
            for cs in (p.get("status") or {}).get("containerStatuses") or []
        )
        if not suspended:
            status.setdefault("startTime", rfc3339(now))
            started = parse_rfc3339(status["startTime"])
            deadline = spec.get("activeDeadlineSeconds")
            on_failure = (spec.get("template") or {}).get("spec", {}).get(
                "restartPolicy"
            ) == "OnFailure"
            # OnFailure: container restarts count (pastBackoffLimitOnFailure uses >=, or > 0).
            restarts_exceed = on_failure and (
                restarts >= backoff_limit if backoff_limit else restarts > 0
            )
            if fail_job is None and (failed > backoff_limit or restarts_exceed):
                fail_job = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            if fail_job is None and deadline is not None:
                if now >= started + timedelta(seconds=int(deadline)):
                    fail_job = ("DeadlineExceeded", "Job was active longer than specified deadline")
                else:
                    self._later(started + timedelta(seconds=int(deadline)), key)

        done = (
            succeeded >= int(completions)
            if completions is not None
            else succeeded > 0 and not active
        )
        if fail_job is not None:
            for pod in active:
                await self._delete_pod(job, pod)
            failed += len(active)
            tally.counted.update(p["metadata"]["uid"] for p in active)
            active = []
            reason, message = fail_job
            conditions = _set_condition(conditions, "FailureTarget", "True", reason, message, now)
            conditions = _set_condition(conditions, "Failed", "True", reason, message, now)
            await self.events.record(job, "Warning", reason, message, COMPONENT)
        elif done and not suspended:
            for pod in active:
                await self._delete_pod(job, pod)
            active = []
            message = "Reached expected number of succeeded pods"
            conditions = _set_condition(
                conditions, "SuccessCriteriaMet", "True", "CompletionsReached", message, now
            )
            conditions = _set_condition(
                conditions, "Complete", "True", "CompletionsReached", message, now
            )
            status["completionTime"] = rfc3339(now)
            await self.events.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        elif not suspended:
            wanted = (
                parallelism
                if completions is None
                else min(parallelism, int(completions) - succeeded)
            )
            if len(active) < wanted:
                ready_at = self._backoff_until(tally, failed)
                if ready_at is not None and ready_at > now:
                    self._later(ready_at, key)
                else:
                    for _ in range(wanted - len(active)):
                        active.append(await self._create_pod(job))

        ready = sum(
            1
            for p in active
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        status.update(
            {
                "active": len(active),
                "succeeded": succeeded,
                "failed": failed,
                "ready": ready,
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        )
        for name in ("active", "succeeded", "failed"):
            if not status[name]:
                del status[name]
        if conditions:
            status["conditions"] = conditions
        if status != old_status:
            current = self.store.peek(JOBS, *key)
            if current is not None and current["metadata"]["uid"] == uid:
                await self.store.update(
                    self.jobs_rt,
                    key[0],
                    key[1],
                    {**current, "status": status},
                    subresource="status",
                    field_manager=COMPONENT,
                )
        if finished_condition({"status": status}):
            self.queue.add(key)  # for ttlSecondsAfterFinished

    def _backoff_until(self, tally: Tally, failed: int) -> datetime | None:
        if not failed or tally.last_failure is None:
            return None
        delay = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX)
        return tally.last_failure + timedelta(seconds=delay)

    async def _expire(self, job: dict[str, Any], key: tuple[str, str], now: datetime) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        status = job.get("status") or {}
        ends = [
            c.get("lastTransitionTime")
            for c in status.get("conditions") or []
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        ]
        finished_at = parse_rfc3339(status.get("completionTime") or ends[0])
        expires = finished_at + timedelta(seconds=int(ttl))
        if now < expires:
            self._later(expires, key)
            return
        self.store.delete_stored(self.jobs_rt, job, "Foreground")

    async def _create_pod(self, job: dict[str, Any]) -> dict[str, Any]:
        meta = job["metadata"]
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        pod_meta = template.get("metadata") or {}
        labels = {
            **(pod_meta.get("labels") or {}),
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"],
            "job-name": meta["name"],
        }
        body = {
            "metadata": {
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": pod_meta.get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec") or {},
        }
        if not body["metadata"]["annotations"]:
            del body["metadata"]["annotations"]
        pod = await self.store.create(
            self.pods_rt, meta["namespace"], body, field_manager=COMPONENT
        )
        await self.events.record(
            job, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", COMPONENT
        )
        return pod

    async def _delete_pod(self, job: dict[str, Any], pod: dict[str, Any]) -> None:
        current = self.store.peek(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
            return
        self.store.delete_stored(self.pods_rt, current, "Background")
        await self.events.record(
            job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT
        )


def _set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
) -> list[dict[str, Any]]:
    stamp = rfc3339(now)
    new = {
        "type": type_,
        "status": status,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }
    out = []
    replaced = False
    for cond in conditions:
        if cond.get("type") == type_:
            if cond.get("status") == status:
                new["lastTransitionTime"] = cond.get("lastTransitionTime", stamp)
            out.append(new)
            replaced = True
        else:
            out.append(cond)
    if not replaced:
        out.append(new)
    return out
