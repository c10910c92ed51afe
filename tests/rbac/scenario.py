"""Drive the real operator (kopf subprocess) through every code path, as its own identity.

The operator runs as the chart's service account (``system:serviceaccount:archive-system:
archive-operator``, through its own bearer token), so its requests are told apart in the
sandbox's request log from the test's own (the sandbox admin). The scenario walks every
Kubernetes API call the operator makes (operator/archive_operator/kube.py plus kopf's own):

* a schedule created (CronJob create, status patch, Events, kopf's annotations);
* its entries changed (a CronJob replaced — PUT — and one deleted);
* a manual run made by hand (adopted: metadata patch; its Job created) that is held mid-run;
* the CronJob fires meanwhile (the scheduled Job recorded as an ArchiveRun, then suspended
  under concurrencyPolicy Forbid, and resumed when the manual run finishes);
* success notifications (the webhook URL read from its Secret);
* history pruning (successfulRuns: 1 — a second scheduled run prunes the first record);
* concurrencyPolicy Replace (a newer manual run makes the operator delete the older one's Job);
* the schedule deleted (the operator sees its runs go and finds the schedule gone).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from archive_sandbox.app import Sandbox
from archive_sandbox.auth import DEFAULT_ADMIN_TOKEN, Users
from archive_sandbox.kubeconfig import write_kubeconfig

from tests.e2e.harness import GatedProxy, WebhookReceiver, wait_for
from tests.fixtures.processes import stop_process

from .rbac import UserInfo
from .requests import service_account

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GROUP_PATH = "/apis/archive.auriora.io/v1alpha1"
# The chart's defaults: release "archive-operator" in namespace "archive-system".
OPERATOR: UserInfo = service_account("archive-system", "archive-operator")
OPERATOR_TOKEN = "archive-operator-sa-token"


class Cluster:
    """A private sandbox (own clock, own request log) with the operator's identity registered."""

    def __init__(self, workdir: Path) -> None:
        users = Users()
        users.add(OPERATOR_TOKEN, OPERATOR.name, OPERATOR.groups[:-1])
        self.sandbox = Sandbox(users=users, bookmark_interval=1.0)
        self.workdir = workdir
        self.sandbox.start_in_thread()
        self.sandbox.call(self.sandbox.apply_crd_files(sorted((ROOT / "crds").glob("*.yaml"))))
        self.http = httpx.Client(
            base_url=self.sandbox.url,
            headers={"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"},
            timeout=30,
        )
        self.operator_kubeconfig = write_kubeconfig(
            workdir / "operator.kubeconfig", self.sandbox.url, token=OPERATOR_TOKEN
        )

    def close(self) -> None:
        self.http.close()
        self.sandbox.stop_thread()

    # --- the admin's API calls (not the operator's) -------------------------------------------

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        response = self.http.request(method, path, json=body, headers=headers)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def create(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, body)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        return response.json() if response.status_code == 200 else None

    def items(self, path: str) -> list[dict[str, Any]]:
        return list(self.call("GET", path)["items"])

    def merge_patch(self, path: str, body: dict[str, Any]) -> Any:
        content_type = "application/merge-patch+json"
        return self.call("PATCH", path, body, **{"Content-Type": content_type})

    def create_namespace(self, name: str) -> None:
        self.create("/api/v1/namespaces", {"metadata": {"name": name}})

    def create_secret(
        self, namespace: str, name: str, data: dict[str, str], user: str | None = None
    ) -> None:
        metadata: dict[str, Any] = {"name": name}
        if user is not None:  # whose credentials they are (ownership.py)
            metadata["annotations"] = {"archive.auriora.io/user": user}
        body = {"metadata": metadata, "stringData": data}
        self.create(f"/api/v1/namespaces/{namespace}/secrets", body)

    def set_clock(self, **body: Any) -> None:
        self.call("POST", "/sandbox/clock", body)

    def records(self, mark: int) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.sandbox.requests.since(mark)]

    # --- the operator -------------------------------------------------------------------------

    @contextmanager
    def operator(self, *scope: str) -> Iterator[Path]:
        """``archive-operator run --standalone SCOPE`` as the chart runs it; yields its log."""
        log = self.workdir / f"operator-{len(list(self.workdir.glob('operator-*')))}.log"
        env = {
            **os.environ,
            "KUBECONFIG": str(self.operator_kubeconfig),
            "HOME": str(self.workdir),
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": "archive-runner:rbac",
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": "1",
            "ARCHIVE_OPERATOR_NOTIFY_ENABLED": "true",
            # The test's webhook receiver listens on loopback, refused unless allowed.
            "ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS": "127.0.0.1",
            "ARCHIVE_OPERATOR_LOG_FORMAT": "text",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / "archive-operator"), "run", "--standalone", *scope],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        try:
            yield log
        finally:
            stop_process(process)


def schedule(namespace: str, source: str, archive: str, entries: list[Any]) -> dict[str, Any]:
    return {
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveSchedule",
        "metadata": {"name": "alice", "namespace": namespace},
        "spec": {
            "user": "alice",
            "timeZone": "UTC",
            "schedules": entries,
            "source": {"caldav": {"url": source}},
            "destination": {"caldav": {"url": archive}},
            "credentialsSecretRef": {"name": "calendar"},
            "concurrencyPolicy": "Forbid",
            "history": {"successfulRuns": 1, "failedRuns": 1},
            "notify": {
                "webhook": {"urlSecretRef": {"name": "hook", "key": "url"}, "events": ["success"]}
            },
        },
    }


def manual_run(namespace: str, name: str, day: str) -> dict[str, Any]:
    """A run as a user writes it by hand: no owner, no labels (the operator adopts it)."""
    return {
        "apiVersion": "archive.auriora.io/v1alpha1",
        "kind": "ArchiveRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"scheduleRef": {"name": "alice"}, "start": day, "end": day, "trigger": "manual"},
    }


def run_status(cluster: Cluster, namespace: str, run: str) -> dict[str, Any]:
    body = cluster.get(f"{GROUP_PATH}/namespaces/{namespace}/archiveruns/{run}")
    return dict((body or {}).get("status") or {})


def wait_phase(cluster: Cluster, namespace: str, run: str, wanted: str) -> None:
    try:
        wait_for(
            lambda: run_status(cluster, namespace, run).get("phase") == wanted,
            f"run {run} {wanted}",
            30,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {run_status(cluster, namespace, run)}") from None


def scheduled_runs(cluster: Cluster, namespace: str) -> list[str]:
    path = f"{GROUP_PATH}/namespaces/{namespace}/archiveruns"
    runs = cluster.items(f"{path}?labelSelector=archive.auriora.io/trigger%3Dscheduled")
    return sorted(r["metadata"]["name"] for r in runs)


def jobs(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    items = cluster.items(f"/apis/batch/v1/namespaces/{namespace}/jobs")
    return {j["metadata"]["name"]: j for j in items}


def cronjob_schedules(cluster: Cluster, namespace: str) -> dict[str, str]:
    items = cluster.items(f"/apis/batch/v1/namespaces/{namespace}/cronjobs")
    return {c["metadata"]["name"]: c["spec"]["schedule"] for c in items}


def full_lifecycle(cluster: Cluster, namespace: str, caldav_base: str, calendars: Any) -> None:
    """Every operator code path on one schedule (see the module doc). ``calendars`` makes
    fresh calendar collections (``radicale_server.new_collection``)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cluster.set_clock(now=(today + timedelta(hours=23, minutes=58)).isoformat(), speed=0)
    source, archive = calendars("work").url, calendars("archive").url
    webhook = WebhookReceiver()
    try:
        with GatedProxy(caldav_base) as gate:
            gated = source.replace(caldav_base, gate.url)
            _run_everything(cluster, namespace, gated, archive, webhook, gate, today)
    finally:
        webhook.close()
        cluster.set_clock(now=datetime.now(UTC).isoformat(), speed=1)


def _run_everything(
    cluster: Cluster,
    namespace: str,
    source: str,
    archive: str,
    webhook: WebhookReceiver,
    gate: GatedProxy,
    today: datetime,
) -> None:
    ns_runs = f"{GROUP_PATH}/namespaces/{namespace}/archiveruns"
    ns_schedules = f"{GROUP_PATH}/namespaces/{namespace}/archiveschedules"
    # The source goes through the gate (another origin than the archive's): the archive gets
    # its own credentials (the runner sends credentials only to the origin they are for).
    credentials = {
        "username": "alice",
        "password": "secret",
        "destination-username": "alice",
        "destination-password": "secret",
    }
    cluster.create_secret(namespace, "calendar", credentials, user="alice")
    cluster.create_secret(namespace, "hook", {"url": webhook.url})

    # Created, then changed: one CronJob replaced (new time), one deleted (entry removed).
    entries = [
        {"name": "nightly", "daily": {"at": "22:00"}},
        {"name": "weekly", "cron": "0 6 * * 1"},
    ]
    cluster.create(ns_schedules, schedule(namespace, source, archive, entries))
    wait_for(lambda: len(cronjob_schedules(cluster, namespace)) == 2, "two CronJobs")
    nightly = [{"name": "nightly", "daily": {"at": "23:59"}}]
    cluster.merge_patch(f"{ns_schedules}/alice", {"spec": {"schedules": nightly}})
    wait_for(
        lambda: list(cronjob_schedules(cluster, namespace).values()) == ["59 23 * * *"],
        "the nightly CronJob replaced and the weekly one deleted",
    )

    # A manual run made by hand, held mid-run at the calendar server.
    yesterday = (today - timedelta(days=1)).date().isoformat()
    cluster.create(ns_runs, manual_run(namespace, "alice-by-hand", yesterday))
    wait_for(gate.waiting.is_set, "the manual run's runner to reach the calendar server", 30)

    # 23:59:30: the CronJob fires; Forbid holds (suspends) the scheduled Job.
    cluster.set_clock(advance=90)
    first = wait_for(lambda: scheduled_runs(cluster, namespace), "the scheduled run's record")[0]
    wait_for(
        lambda: (jobs(cluster, namespace).get(first) or {}).get("spec", {}).get("suspend"),
        "the scheduled Job held while the manual run is active",
    )

    # The calendar server answers: the manual run succeeds, the held one resumes and succeeds,
    # each success is notified, and the manual run is pruned (successfulRuns: 1).
    gate.release.set()
    wait_phase(cluster, namespace, first, "Succeeded")
    wait_for(lambda: cluster.get(f"{ns_runs}/alice-by-hand") is None, "the manual run pruned")
    wait_for(lambda: webhook.kinds().count("success") >= 2, "two success notifications")

    # A day later the CronJob fires again: the first scheduled record and its Job are pruned.
    cluster.set_clock(advance=24 * 3600)
    wait_for(lambda: len(scheduled_runs(cluster, namespace)) == 2, "the second scheduled run")
    second = scheduled_runs(cluster, namespace)[-1]
    wait_phase(cluster, namespace, second, "Succeeded")
    wait_for(lambda: first not in jobs(cluster, namespace), "the first scheduled Job pruned")
    wait_for(lambda: scheduled_runs(cluster, namespace) == [second], "the first record pruned")

    # concurrencyPolicy Replace: a newer manual run stops the held one (its Job deleted).
    # (The clock moves on first: finished runs are ordered by completion time, then name.)
    cluster.set_clock(advance=60)
    gate.release.clear()
    gate.waiting.clear()
    cluster.merge_patch(f"{ns_schedules}/alice", {"spec": {"concurrencyPolicy": "Replace"}})
    cluster.create(ns_runs, manual_run(namespace, "alice-replaced", yesterday))
    wait_for(gate.waiting.is_set, "the run to be replaced to reach the calendar server", 30)
    cluster.create(ns_runs, manual_run(namespace, "alice-newer", yesterday))
    wait_phase(cluster, namespace, "alice-replaced", "Failed")
    wait_for(lambda: "alice-replaced" not in jobs(cluster, namespace), "the replaced Job deleted")
    gate.release.set()
    wait_phase(cluster, namespace, "alice-newer", "Succeeded")

    # Deleted: its CronJob, Jobs and runs go by garbage collection; the operator notices.
    cluster.call("DELETE", f"{ns_schedules}/alice")
    wait_for(lambda: not cluster.items(ns_runs), "the schedule's runs deleted")


def short_lifecycle(cluster: Cluster, namespace: str, calendars: Any) -> None:
    """A schedule with an entry and one manual run to success (for a second watch scope)."""
    source, archive = calendars("work").url, calendars("archive").url
    cluster.create_secret(
        namespace, "calendar", {"username": "alice", "password": "secret"}, user="alice"
    )
    entries = [{"name": "nightly", "daily": {"at": "23:59"}}]
    ns_schedules = f"{GROUP_PATH}/namespaces/{namespace}/archiveschedules"
    body = schedule(namespace, source, archive, entries)
    del body["spec"]["notify"]
    cluster.create(ns_schedules, body)
    wait_for(lambda: cronjob_schedules(cluster, namespace), "the CronJob")
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    cluster.create(
        f"{GROUP_PATH}/namespaces/{namespace}/archiveruns", manual_run(namespace, "once", day)
    )
    wait_phase(cluster, namespace, "once", "Succeeded")
