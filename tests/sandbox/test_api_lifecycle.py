"""Conformance: watches, finalizers, garbage collection, namespace and CRD deletion."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
import requests

from tests.fixtures.sandbox import SandboxHandle

from .conftest import CRD_FILE, GROUP, PLURAL, VERSION, widget

ApiException = kubernetes.client.ApiException
AUTH = {"Authorization": "Bearer sandbox-admin-token"}


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def gone(read: Callable[[], Any]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            read()
        except ApiException as e:
            return e.status == 404
        return False

    return check


def owner_ref(
    obj: dict[str, Any], kind: str = "Widget", api_version: str = f"{GROUP}/{VERSION}"
) -> dict[str, Any]:
    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata.to_dict()
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_watch_replays_from_resource_version_and_filters(core: Any, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    listed = core.list_namespaced_config_map(ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a", "labels": {"w": "yes"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"w": "no"}}})
    core.delete_namespaced_config_map("b", ns)
    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=1,
    )
    events = [(e["type"], e["object"].metadata.name) for e in stream]
    assert events == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    selected = kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        label_selector="w=yes",
        timeout_seconds=1,
    )
    # The label change makes "a" leave the selection: a DELETED event, as Kubernetes sends.
    assert [(e["type"], e["object"].metadata.name) for e in selected] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]


def test_watch_without_resource_version_starts_with_current_state(
    core: Any, sandbox_namespace: str
) -> None:
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "now"}})
    events = list(
        kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, sandbox_namespace, timeout_seconds=1
        )
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "now")]


def test_watch_sees_live_events_and_bookmarks(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    url = f"{sandbox.url}/api/v1/namespaces/{ns}/configmaps"
    params = {
        "watch": "1",
        "resourceVersion": rv,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "2",
    }
    with requests.get(url, params=params, headers=AUTH, stream=True, timeout=10) as response:
        lines = response.iter_lines()
        core.create_namespaced_config_map(ns, {"metadata": {"name": "live"}})
        first = json.loads(next(lines))
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "live"
        assert first["object"]["kind"] == "ConfigMap"
        rest = [json.loads(line) for line in lines if line]
    assert any(
        e["type"] == "BOOKMARK" and int(e["object"]["metadata"]["resourceVersion"]) >= int(rv)
        for e in rest
    )


def test_watch_too_old_resource_version_is_gone() -> None:
    from archive_sandbox.app import Sandbox

    with Sandbox.threaded(history_size=3) as sb:
        rt = sb.store.resource("", "configmaps")
        for i in range(6):
            sb.call(sb.store.create(rt, "default", {"metadata": {"name": f"c{i}"}}))
        url = f"{sb.url}/api/v1/namespaces/default/configmaps"
        response = requests.get(
            url, params={"watch": "1", "resourceVersion": "1"}, headers=AUTH, timeout=5
        )
        event = json.loads(response.text.splitlines()[0])
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        assert event["object"]["message"].startswith("too old resource version: 1")


def test_cluster_wide_watch_across_namespaces(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    rv = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "cw"}})
    events = kubernetes.watch.Watch().stream(
        core.list_config_map_for_all_namespaces, resource_version=rv, timeout_seconds=1
    )
    assert ("ADDED", sandbox_namespace) in {
        (e["type"], e["object"].metadata.namespace) for e in events
    }


def test_finalizers_delay_deletion_until_removed(custom: Any, sandbox_namespace: str) -> None:
    ns = sandbox_namespace
    obj = widget("f")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    made = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, obj)
    marked = custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "f")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["generation"] == made["metadata"]["generation"] + 1
    still = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "f")
    assert still["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as exc:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            PLURAL,
            "f",
            {"metadata": {"finalizers": ["example.com/hold", "x/y"]}},
        )
    assert exc.value.status == 422
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "f", {"metadata": {"finalizers": None}}
    )
    assert gone(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "f"))()


def test_background_garbage_collection(
    sandbox: SandboxHandle, core: Any, custom: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    owner = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, widget("owner"))
    batch = kubernetes.client.BatchV1Api(core.api_client)
    cronjob = {
        "metadata": {"name": "cj", "ownerReferences": [owner_ref(owner)]},
        "spec": {
            "schedule": "@daily",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "c", "image": "i"}],
                            "restartPolicy": "Never",
                        }
                    }
                }
            },
        },
    }
    made = batch.create_namespaced_cron_job(ns, cronjob)
    job = {
        "metadata": {
            "name": "job",
            "ownerReferences": [owner_ref(made.to_dict(), "CronJob", "batch/v1")],
        },
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}
            }
        },
    }
    batch.create_namespaced_job(ns, job)
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {
                "name": "shared",
                "ownerReferences": [
                    owner_ref(owner),
                    {**owner_ref(made.to_dict(), "CronJob", "batch/v1"), "controller": False},
                ],
            }
        },
    )
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "owner")
    wait_for(gone(lambda: batch.read_namespaced_job("job", ns)))
    assert gone(lambda: batch.read_namespaced_cron_job("cj", ns))()
    wait_for(gone(lambda: core.read_namespaced_config_map("shared", ns)))


def test_dependent_with_surviving_owner_loses_only_the_dangling_reference(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    one = core.create_namespaced_config_map(ns, {"metadata": {"name": "one"}}).to_dict()
    two = core.create_namespaced_config_map(ns, {"metadata": {"name": "two"}}).to_dict()
    refs = [
        owner_ref(one, "ConfigMap", "v1"),
        {**owner_ref(two, "ConfigMap", "v1"), "controller": False},
    ]
    core.create_namespaced_secret(ns, {"metadata": {"name": "dep", "ownerReferences": refs}})
    core.delete_namespaced_config_map("one", ns)
    sandbox.settle()
    remaining = core.read_namespaced_secret("dep", ns).metadata.owner_references
    assert [r.name for r in remaining] == ["two"]


def test_orphan_and_foreground_propagation(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "o1"}}).to_dict()
    core.create_namespaced_secret(
        ns, {"metadata": {"name": "kept", "ownerReferences": [owner_ref(owner, "ConfigMap", "v1")]}}
    )
    core.delete_namespaced_config_map("o1", ns, propagation_policy="Orphan")
    sandbox.settle()
    assert core.read_namespaced_secret("kept", ns).metadata.owner_references is None

    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "o2"}}).to_dict()
    held = {
        "name": "held",
        "ownerReferences": [owner_ref(owner, "ConfigMap", "v1")],
        "finalizers": ["example.com/hold"],
    }
    core.create_namespaced_secret(ns, {"metadata": held})
    core.delete_namespaced_config_map("o2", ns, propagation_policy="Foreground")
    sandbox.settle()
    waiting = core.read_namespaced_config_map("o2", ns)
    assert (
        waiting.metadata.deletion_timestamp and "foregroundDeletion" in waiting.metadata.finalizers
    )
    core.patch_namespaced_secret("held", ns, {"metadata": {"finalizers": None}})
    wait_for(gone(lambda: core.read_namespaced_config_map("o2", ns)))


def test_dependent_of_missing_owner_is_collected(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "ghost",
        "uid": "00000000-0000-0000-0000-000000000000",
    }
    core.create_namespaced_secret(
        sandbox_namespace, {"metadata": {"name": "orphan", "ownerReferences": [ref]}}
    )
    wait_for(gone(lambda: core.read_namespaced_secret("orphan", sandbox_namespace)))


def test_deleting_a_namespace_deletes_its_objects(
    sandbox: SandboxHandle, core: Any, custom: Any
) -> None:
    ns = "doomed-ns"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    held = widget("w")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, held)
    core.delete_namespace(ns)
    sandbox.settle()
    assert core.read_namespace(ns).status.phase == "Terminating"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "late"}})
    assert exc.value.status == 403 and "being terminated" in json.loads(exc.value.body)["message"]
    assert gone(lambda: core.read_namespaced_config_map("c", ns))()
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "w", {"metadata": {"finalizers": None}}
    )
    wait_for(gone(lambda: core.read_namespace(ns)))


def test_deleting_a_crd_removes_its_objects_and_resources(sandbox: SandboxHandle, api: Any) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "doodads.temp.example.com"},
        "spec": {
            "group": "temp.example.com",
            "scope": "Namespaced",
            "names": {"plural": "doodads", "kind": "Doodad"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    custom.create_namespaced_custom_object(
        "temp.example.com",
        "v1",
        "default",
        "doodads",
        {"apiVersion": "temp.example.com/v1", "kind": "Doodad", "metadata": {"name": "d"}},
    )
    ext.delete_custom_resource_definition("doodads.temp.example.com")
    wait_for(gone(lambda: ext.read_custom_resource_definition("doodads.temp.example.com")))
    response = requests.get(
        f"{sandbox.url}/apis/temp.example.com/v1/namespaces/default/doodads",
        headers=AUTH,
        timeout=5,
    )
    assert response.status_code == 404
    # Re-created, the resource starts empty.
    ext.create_custom_resource_definition(crd)
    assert (
        custom.list_namespaced_custom_object("temp.example.com", "v1", "default", "doodads")[
            "items"
        ]
        == []
    )
    ext.delete_custom_resource_definition("doodads.temp.example.com")
    assert CRD_FILE.exists()


def test_watch_list_initial_events_end_with_a_bookmark(
    sandbox: SandboxHandle, core: Any, sandbox_namespace: str
) -> None:
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "initial"}})
    url = f"{sandbox.url}/api/v1/namespaces/{sandbox_namespace}/configmaps"
    params = {
        "watch": "1",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
        "timeoutSeconds": "1",
    }
    events = [
        json.loads(line)
        for line in requests.get(url, params=params, headers=AUTH, timeout=5).text.splitlines()
    ]
    assert (events[0]["type"], events[0]["object"]["metadata"]["name"]) == ("ADDED", "initial")
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_a_watch_timeout_must_be_whole_seconds(
    sandbox: SandboxHandle, sandbox_namespace: str
) -> None:
    """As kube-apiserver parses timeoutSeconds (strconv.ParseInt): "300.0" is a 400, not a
    300-second watch. Seen on the real control plane (tests/real/test_control_plane_faults_real.py
    ran an operator that sent it: kopf's watch ended at once, every time)."""
    url = f"{sandbox.url}/api/v1/namespaces/{sandbox_namespace}/configmaps"
    answer = requests.get(
        url, params={"watch": "1", "timeoutSeconds": "300.0"}, headers=AUTH, timeout=5
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == 'strconv.ParseInt: parsing "300.0": invalid syntax'
