"""An in-memory stand-in for archive_operator.kube.Kube, recording every write."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any

from archive_operator.errors import Conflict, NotFound, Rejected

Manifest = dict[str, Any]


class FakeKube:
    def __init__(self) -> None:
        self.schedules: dict[tuple[str, str], Manifest] = {}
        self.cronjobs: dict[tuple[str, str], Manifest] = {}
        self.events: list[Manifest] = []
        self.writes: list[tuple[str, str]] = []
        self.reject_cronjobs = False

    def add_schedule(self, body: Manifest) -> Manifest:
        body = copy.deepcopy(body)
        meta = body["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        self.schedules[(meta["namespace"], meta["name"])] = body
        return body

    def get_schedule(self, namespace: str, name: str) -> Manifest:
        try:
            return copy.deepcopy(self.schedules[(namespace, name)])
        except KeyError:
            raise NotFound(name) from None

    def list_schedules(self, namespace: str | None) -> list[Manifest]:
        return [
            copy.deepcopy(s) for (ns, _), s in self.schedules.items() if namespace in (None, ns)
        ]

    def patch_schedule_status(self, namespace: str, name: str, patch: Manifest) -> None:
        self.writes.append(("patch-status", name))
        body = self.schedules[(namespace, name)]
        status = body.setdefault("status", {})
        for key, value in patch.items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = copy.deepcopy(value)

    def list_cronjobs(self, namespace: str, selector: str) -> list[Manifest]:
        wanted = dict(part.split("=", 1) for part in selector.split(","))
        return [
            copy.deepcopy(cj)
            for (ns, _), cj in self.cronjobs.items()
            if ns == namespace
            and all(cj["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]

    def get_cronjob(self, namespace: str, name: str) -> Manifest:
        try:
            return copy.deepcopy(self.cronjobs[(namespace, name)])
        except KeyError:
            raise NotFound(name) from None

    def create_cronjob(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        key = (meta["namespace"], meta["name"])
        if self.reject_cronjobs:
            raise Rejected("CronJob.batch is invalid: spec.schedule: Invalid value")
        if key in self.cronjobs:
            raise Conflict("already exists", status=409, reason="AlreadyExists")
        self.writes.append(("create", meta["name"]))
        stored = copy.deepcopy(manifest)
        stored["metadata"]["uid"] = str(uuid.uuid4())
        stored["metadata"]["resourceVersion"] = "1"
        # What an API server adds: defaults the operator does not set.
        pod = stored["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        pod["dnsPolicy"] = "ClusterFirst"
        pod["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
        self.cronjobs[key] = stored
        return copy.deepcopy(stored)

    def replace_cronjob(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        self.writes.append(("replace", meta["name"]))
        stored = copy.deepcopy(manifest)
        self.cronjobs[(meta["namespace"], meta["name"])] = stored
        return copy.deepcopy(stored)

    def delete_cronjob(self, namespace: str, name: str, uid: str) -> None:
        self.writes.append(("delete", name))
        self.cronjobs.pop((namespace, name), None)

    def create_event(
        self, involved: Manifest, *, type_: str, reason: str, message: str, now: datetime
    ) -> None:
        self.writes.append(("event", reason))
        self.events.append({"type": type_, "reason": reason, "message": message})
