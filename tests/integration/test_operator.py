"""The operator under real kopf against the sandbox, resources applied with the real kubectl."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from archive_operator.kube import Kube

from .conftest import RESYNC_SECONDS, OperatorProcess, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
Apply = Callable[..., subprocess.CompletedProcess[str]]


def schedule_yaml(name: str, *entries: str, time_zone: str = "Europe/London") -> str:
    body = "\n".join(f"    - {entry}" for entry in entries) or "    []"
    return f"""
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveSchedule
metadata:
  name: {name}
spec:
  user: {name}@example.com
  timeZone: {time_zone}
  schedules:
{body}
  source:
    caldav:
      url: https://cal.example.com/dav/{name}/calendar/
  destination:
    caldav:
      url: https://cal.example.com/dav/{name}/archive/
"""


def cronjob(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return kube.get_cronjob(namespace, name)


def ready(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    status = kube.get_schedule(namespace, name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)


def wait_ready(kube: Kube, namespace: str, name: str, status: str = "True") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        condition = ready(kube, namespace, name)
        return condition if condition and condition["status"] == status else None

    return wait_for(check, f"{name} Ready={status}")


def cronjob_names(kube: Kube, namespace: str, schedule: str) -> set[str]:
    return {
        cj["metadata"]["name"]
        for cj in kube.list_cronjobs(namespace, f"archive.auriora.io/schedule={schedule}")
    }


def test_create_gives_cronjobs_with_schedule_zone_and_owner(
    operator: OperatorProcess, kube: Kube, namespace: str, apply: Apply
) -> None:
    apply(
        schedule_yaml(
            "alice",
            'name: nightly\n      daily: {at: "23:59"}',
            'name: weekly\n      weekly: {days: [mon, fri], at: "18:00"}',
            'name: workdays\n      cron: "30 2 * * 1-5"',
        )
    )
    wait_for(lambda: len(cronjob_names(kube, namespace, "alice")) == 3, "three CronJobs for alice")
    nightly = cronjob(kube, namespace, "alice-nightly")
    schedule = kube.get_schedule(namespace, "alice")
    assert nightly["spec"]["schedule"] == "59 23 * * *"
    assert nightly["spec"]["timeZone"] == "Europe/London"
    assert nightly["spec"]["concurrencyPolicy"] == "Forbid"
    (owner,) = nightly["metadata"]["ownerReferences"]
    assert owner["uid"] == schedule["metadata"]["uid"]
    assert owner["kind"] == "ArchiveSchedule" and owner["controller"] is True
    assert cronjob(kube, namespace, "alice-weekly")["spec"]["schedule"] == "0 18 * * 1,5"
    assert cronjob(kube, namespace, "alice-workdays")["spec"]["schedule"] == "30 2 * * 1-5"
    condition = wait_ready(kube, namespace, "alice")
    assert condition["reason"] == "Reconciled"
    status = kube.get_schedule(namespace, "alice")["status"]
    assert status["observedGeneration"] == schedule["metadata"]["generation"]
    assert [s["cronJobName"] for s in status["schedules"]] == [
        "alice-nightly",
        "alice-weekly",
        "alice-workdays",
    ]
    assert status["nextRunTime"] == min(s["nextRunTime"] for s in status["schedules"])


def test_kubectl_get_shows_the_printer_columns(
    operator: OperatorProcess, sandbox: Any, namespace: str
) -> None:
    output = sandbox.kubectl("get", "archiveschedules", namespace=namespace).stdout
    assert "alice@example.com" in output
    assert "nightly=daily 23:59" in output


def test_edit_a_time_updates_the_cronjob(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    patch = '[{"op": "replace", "path": "/spec/schedules/0/daily/at", "value": "06:30"}]'
    sandbox.kubectl(
        "patch", "archiveschedule", "alice", "--type=json", "-p", patch, namespace=namespace
    )
    wait_for(
        lambda: cronjob(kube, namespace, "alice-nightly")["spec"]["schedule"] == "30 6 * * *",
        "alice-nightly at 06:30",
    )


def test_remove_an_entry_deletes_its_cronjob(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    patch = '[{"op": "remove", "path": "/spec/schedules/2"}]'
    sandbox.kubectl(
        "patch", "archiveschedule", "alice", "--type=json", "-p", patch, namespace=namespace
    )
    wait_for(
        lambda: cronjob_names(kube, namespace, "alice") == {"alice-nightly", "alice-weekly"},
        "alice-workdays deleted",
    )


def test_suspend_suspends_every_cronjob(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    sandbox.kubectl(
        "patch",
        "archiveschedule",
        "alice",
        "--type=merge",
        "-p",
        '{"spec":{"suspend":true}}',
        namespace=namespace,
    )
    for name in ("alice-nightly", "alice-weekly"):
        wait_for(
            lambda n=name: cronjob(kube, namespace, n)["spec"]["suspend"] is True,  # type: ignore[misc]
            f"{name} suspended",
        )
    sandbox.kubectl(
        "patch",
        "archiveschedule",
        "alice",
        "--type=merge",
        "-p",
        '{"spec":{"suspend":false}}',
        namespace=namespace,
    )
    wait_for(
        lambda: cronjob(kube, namespace, "alice-nightly")["spec"]["suspend"] is False, "resumed"
    )


def test_cronjob_deleted_by_hand_is_recreated(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    old = cronjob(kube, namespace, "alice-nightly")
    old_uid = old["metadata"]["uid"]
    sandbox.kubectl("delete", "cronjob", "alice-nightly", namespace=namespace)
    recreated = wait_for(
        lambda: (
            (cj := cronjob(kube, namespace, "alice-nightly"))["metadata"]["uid"] != old_uid and cj
        ),
        "alice-nightly recreated",
    )
    assert recreated["spec"] == old["spec"]


def test_cronjob_edited_by_hand_is_repaired(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    sandbox.kubectl(
        "patch",
        "cronjob",
        "alice-weekly",
        "--type=merge",
        "-p",
        '{"spec":{"schedule":"1 1 * * *"}}',
        namespace=namespace,
    )
    wait_for(
        lambda: cronjob(kube, namespace, "alice-weekly")["spec"]["schedule"] == "0 18 * * 1,5",
        "alice-weekly repaired",
    )


def test_resync_without_change_makes_no_writes(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    wait_ready(kube, namespace, "alice")
    wait_for(lambda: _quiet_for(sandbox, namespace, 1), "a quiet moment")
    mark = sandbox.requests.mark()
    # Two full drift checks: each lists the schedules, then the CronJobs of each.
    wait_for(
        lambda: _resyncs_since(sandbox, namespace, mark) >= 2,
        "two resyncs",
        timeout=RESYNC_SECONDS * 6,
    )
    writes = [
        (r.verb, r.resource, r.name)
        for r in sandbox.requests.writes_since(mark)
        if r.namespace == namespace
    ]
    assert writes == []
    reads = [r for r in sandbox.requests.since(mark) if r.resource == "cronjobs"]
    assert reads, "the drift check did look at the CronJobs"


def test_operator_restart_makes_no_writes(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    operator.stop()
    mark = sandbox.requests.mark()
    operator.start()
    # Every existing schedule is reconciled as kopf lists it at start-up (each has CronJobs,
    # so each reconcile lists them)...
    existing = len(kube.schedule_names(namespace))
    wait_for(
        lambda: _operator_lists_since(sandbox, namespace, mark, "cronjobs") >= existing,
        "every schedule reconciled",
        timeout=30,
    )
    # ...and then the operator's own drift check runs.
    wait_for(
        lambda: _resyncs_since(sandbox, namespace, mark) >= 2,
        "two resyncs",
        timeout=RESYNC_SECONDS * 6,
    )
    writes = [
        (r.verb, r.resource, r.subresource, r.name)
        for r in sandbox.requests.writes_since(mark)
        if r.namespace == namespace
    ]
    assert writes == []


def test_unknown_time_zone_is_refused_at_admission(
    apply: Apply, kube: Kube, namespace: str
) -> None:
    entry = 'name: nightly\n      daily: {at: "01:00"}'
    result = apply(schedule_yaml("mars", entry, time_zone="Mars/Olympus_Mons"), check=False)
    assert result.returncode != 0
    assert (
        'spec.timeZone: Invalid value: "Mars/Olympus_Mons": timeZone must be an IANA time zone '
        "name of the tz database"
    ) in result.stderr
    assert "mars" not in {name for _, name in kube.schedule_names(namespace)}


def test_cron_that_never_fires_is_ready_false_with_an_event(
    operator: OperatorProcess, kube: Kube, namespace: str, apply: Apply
) -> None:
    # February 30-31: a range, which the CRD's rule does not read; the operator refuses it.
    apply(schedule_yaml("feb", 'name: nightly\n      cron: "0 0 30-31 2 *"'))
    condition = wait_ready(kube, namespace, "feb", status="False")
    assert condition["reason"] == "CronNeverFires"
    assert condition["message"].startswith(
        "spec.schedules[0].cron: '0 0 30-31 2 *' never fires: February has no day 30 or 31"
    )
    events = wait_for(
        lambda: [
            e
            for e in kube.request("GET", f"/api/v1/namespaces/{namespace}/events")["items"]
            if e["involvedObject"]["name"] == "feb" and e["reason"] == "CronNeverFires"
        ],
        "a CronNeverFires event",
    )
    assert events[0]["type"] == "Warning"
    assert cronjob_names(kube, namespace, "feb") == set()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'name: nightly\n      cron: "CRON_TZ=UTC 0 1 * * *"',
            ("spec.schedules[0].cron", "set the time zone with spec.timeZone, not TZ="),
        ),
        (
            'name: nightly\n      daily: {at: "25:00"}',
            ("spec.schedules[0].daily.at", "at must be a 24-hour time HH:MM between 00:00"),
        ),
    ],
)
def test_invalid_spec_is_rejected_at_admission(
    apply: Apply, kube: Kube, namespace: str, entry: str, message: tuple[str, str]
) -> None:
    result = apply(schedule_yaml("rejected", entry), check=False)
    assert result.returncode != 0
    assert 'The ArchiveSchedule "rejected" is invalid' in result.stderr
    field, text = message
    assert field in result.stderr and text in result.stderr
    assert "rejected" not in {name for _, name in kube.schedule_names(namespace)}


def test_deleting_the_schedule_removes_its_cronjobs(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    assert cronjob_names(kube, namespace, "alice")
    sandbox.kubectl("delete", "archiveschedule", "alice", namespace=namespace)
    wait_for(lambda: cronjob_names(kube, namespace, "alice") == set() or None, "CronJobs gone")


def _operator_lists_since(sandbox: Any, namespace: str, mark: int, resource: str) -> int:
    """The operator's own LISTs of ``resource`` in ``namespace`` since ``mark`` (kopf's
    listings for its watches are not counted)."""
    return sum(
        1
        for r in sandbox.requests.since(mark)
        if r.verb == "list"
        and r.resource == resource
        and r.namespace == namespace
        and not r.user_agent.startswith("kopf")
    )


def _resyncs_since(sandbox: Any, namespace: str, mark: int) -> int:
    return _operator_lists_since(sandbox, namespace, mark, "archiveschedules")


def _quiet_for(sandbox: Any, namespace: str, seconds: float) -> bool:
    import datetime as dt

    writes = [r for r in sandbox.requests.since(0) if r.is_write and r.namespace == namespace]
    if not writes:
        return True
    last = dt.datetime.fromisoformat(writes[-1].time.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - last).total_seconds() >= seconds


def test_workloads_are_watched_through_the_managed_by_selector(
    operator: OperatorProcess, kube: Kube, namespace: str, sandbox: Any
) -> None:
    """The API server filters what kopf receives: only what the operator made, a page at a time."""
    operator.stop()
    mark = sandbox.requests.mark()
    operator.start()

    def kopf_reads() -> dict[str, list[str]] | None:
        seen: dict[str, list[str]] = {}
        for r in sandbox.requests.since(mark):
            if r.user_agent.startswith("kopf") and r.verb in ("list", "watch"):
                seen.setdefault(f"{r.verb} {r.resource}", []).append(r.query)
        wanted = {f"{v} {k}" for v in ("list", "watch") for k in ("cronjobs", "jobs", "pods")}
        return seen if wanted <= set(seen) else None

    reads = wait_for(kopf_reads, "kopf's listings and watches of its workloads", timeout=30)
    for kind in ("cronjobs", "jobs", "pods"):
        for verb in ("list", "watch"):
            queries = [parse_qs(q) for q in reads[f"{verb} {kind}"]]
            assert all(
                q.get("labelSelector") == ["app.kubernetes.io/managed-by=archive-operator"]
                for q in queries
            ), (verb, kind, queries)
        assert all(parse_qs(q).get("limit") == ["500"] for q in reads[f"list {kind}"])
    schedules = [parse_qs(q) for q in reads.get("list archiveschedules", [])]
    assert all("labelSelector" not in q for q in schedules)  # every schedule is the operator's
