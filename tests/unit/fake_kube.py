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
        self.runs: dict[tuple[str, str], Manifest] = {}
        self.jobs: dict[tuple[str, str], Manifest] = {}
        self.pods: dict[tuple[str, str], Manifest] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.secret_reads: list[tuple[str, str]] = []
        self.secret_meta: dict[tuple[str, str], Manifest] = {}
        # When set, created CronJobs get this creationTimestamp (an API server always sets one).
        self.now: datetime | None = None

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

    def schedule_names(self, namespace: str | None) -> list[tuple[str, str]]:
        return [key for key in self.schedules if namespace in (None, key[0])]

    def patch_schedule_status(
        self, namespace: str, name: str, patch: Manifest, resource_version: str | None = None
    ) -> None:
        self.writes.append(("patch-status", name))
        body = self.schedules[(namespace, name)]
        current = str(body["metadata"].get("resourceVersion", ""))
        if resource_version and resource_version != current:
            raise Conflict(f"{name}: resourceVersion {resource_version} is stale ({current})")
        body["metadata"]["resourceVersion"] = str(int(current or 0) + 1)
        body["status"] = merge_patch(body.get("status") or {}, patch)

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
        if self.now is not None:
            stored["metadata"]["creationTimestamp"] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
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

    # --- ArchiveRuns, Jobs, pods, Secrets --------------------------------------------------------

    def add_run(self, body: Manifest) -> Manifest:
        body = copy.deepcopy(body)
        meta = body["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2025-03-10T12:00:00Z")
        self.runs[(meta["namespace"], meta["name"])] = body
        return body

    def list_runs(self, namespace: str) -> list[Manifest]:
        return [copy.deepcopy(r) for (ns, _), r in sorted(self.runs.items()) if ns == namespace]

    def get_run(self, namespace: str, name: str) -> Manifest:
        try:
            return copy.deepcopy(self.runs[(namespace, name)])
        except KeyError:
            raise NotFound(name) from None

    def create_run(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        if (meta["namespace"], meta["name"]) in self.runs:
            raise Conflict("already exists", status=409, reason="AlreadyExists")
        self.writes.append(("create-run", meta["name"]))
        body = copy.deepcopy(manifest)
        body["metadata"].setdefault("creationTimestamp", "2025-03-10T12:00:00Z")
        body.pop("status", None)  # the status subresource drops it on create
        return self.add_run(body)

    def patch_run_status(self, namespace: str, name: str, patch: Manifest) -> None:
        if (namespace, name) not in self.runs:
            raise NotFound(name)
        self.writes.append(("patch-run-status", name))
        status = self.runs[(namespace, name)].setdefault("status", {})
        for key, value in patch.items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = copy.deepcopy(value)

    def patch_run_metadata(self, namespace: str, name: str, metadata: Manifest) -> None:
        if (namespace, name) not in self.runs:
            raise NotFound(name)
        self.writes.append(("patch-run", name))
        meta = self.runs[(namespace, name)]["metadata"]
        for key, value in metadata.items():
            if isinstance(value, dict):
                meta[key] = {**meta.get(key, {}), **value}
            else:
                meta[key] = copy.deepcopy(value)

    def delete_run(self, namespace: str, name: str, uid: str) -> None:
        self.writes.append(("delete-run", name))
        run = self.runs.pop((namespace, name), None)
        if run is None:
            return
        for key, job in list(self.jobs.items()):  # garbage collection of its Job
            refs = job["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == run["metadata"]["uid"] for ref in refs):
                self.jobs.pop(key)

    def add_job(self, body: Manifest) -> Manifest:
        body = copy.deepcopy(body)
        meta = body["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", "2025-03-10T12:00:00Z")
        self.jobs[(meta["namespace"], meta["name"])] = body
        return body

    def _matches(self, obj: Manifest, selector: str) -> bool:
        wanted = dict(part.split("=", 1) for part in selector.split(","))
        labels = obj["metadata"].get("labels", {})
        return all(labels.get(k) == v for k, v in wanted.items())

    def list_jobs(self, namespace: str, selector: str) -> list[Manifest]:
        return [
            copy.deepcopy(j)
            for (ns, _), j in sorted(self.jobs.items())
            if ns == namespace and self._matches(j, selector)
        ]

    def create_job(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        if (meta["namespace"], meta["name"]) in self.jobs:
            raise Conflict("already exists", status=409, reason="AlreadyExists")
        self.writes.append(("create-job", meta["name"]))
        return copy.deepcopy(self.add_job(manifest))

    def get_job(self, namespace: str, name: str) -> Manifest:
        try:
            return copy.deepcopy(self.jobs[(namespace, name)])
        except KeyError:
            raise NotFound(name) from None

    def set_job_suspended(self, namespace: str, name: str, suspend: bool) -> None:
        if (namespace, name) not in self.jobs:
            raise NotFound(name)
        self.writes.append(("suspend-job" if suspend else "resume-job", name))
        self.jobs[(namespace, name)]["spec"]["suspend"] = suspend

    def delete_job(self, namespace: str, name: str, uid: str) -> None:
        self.writes.append(("delete-job", name))
        self.jobs.pop((namespace, name), None)

    def add_pod(self, body: Manifest) -> Manifest:
        meta = body["metadata"]
        self.pods[(meta["namespace"], meta["name"])] = copy.deepcopy(body)
        return body

    def list_pods(self, namespace: str, selector: str) -> list[Manifest]:
        return [
            copy.deepcopy(p)
            for (ns, _), p in sorted(self.pods.items())
            if ns == namespace and self._matches(p, selector)
        ]

    def add_credentials(self, namespace: str, name: str, user: str | None) -> None:
        """A credentials Secret, annotated as ``user``'s (None: not annotated)."""
        annotations = {} if user is None else {"archive.auriora.io/user": user}
        self.secret_meta[(namespace, name)] = {"name": name, "annotations": annotations}

    def secret_metadata(self, namespace: str, name: str) -> Manifest | None:
        self.secret_reads.append((name, "<metadata>"))
        return copy.deepcopy(self.secret_meta.get((namespace, name)))

    def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        self.secret_reads.append((name, key))
        try:
            return self.secrets[(namespace, name)][key]
        except KeyError:
            raise NotFound(f"{name}/{key}") from None

    def create_event(
        self, involved: Manifest, *, type_: str, reason: str, message: str, now: datetime
    ) -> None:
        self.writes.append(("event", reason))
        self.events.append(
            {
                "type": type_,
                "reason": reason,
                "message": message,
                "kind": involved.get("kind"),
                "name": involved["metadata"]["name"],
            }
        )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies it: objects merge key by key (None
    deletes a key), anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
