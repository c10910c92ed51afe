"""Conformance: the request log, users, Tables, OpenAPI, and a scale smoke test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes
import requests
import yaml
from archive_sandbox.app import Sandbox

from tests.fixtures.sandbox import SandboxHandle

from .conftest import CRD_FILE, GROUP, PLURAL, VERSION, widget

AUTH = {"Authorization": "Bearer sandbox-admin-token"}
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


def test_request_log_records_verbs_and_users(
    sandbox: SandboxHandle, core: Any, custom: Any, sandbox_namespace: str
) -> None:
    ns = sandbox_namespace
    mark = sandbox.requests.mark()
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, widget("r"))
    custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "r")
    custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "r", {"status": {"phase": "x"}}
    )
    custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "r")
    core.delete_collection_namespaced_config_map(ns)
    records = sandbox.requests.since(mark)
    assert [r.verb for r in records] == [
        "create",
        "get",
        "list",
        "patch",
        "delete",
        "deletecollection",
    ]
    patch = records[3]
    assert (
        patch.api_group,
        patch.resource,
        patch.subresource,
        patch.namespace,
        patch.name,
        patch.code,
    ) == (GROUP, PLURAL, "status", ns, "r", 200)
    assert patch.user == "sandbox-admin" and "system:masters" in patch.groups
    assert patch.user_agent.startswith("OpenAPI-Generator/")
    assert len(sandbox.requests.writes_since(mark)) == 4

    over_http = requests.get(
        f"{sandbox.url}/sandbox/requests", params={"since": mark, "writes": "1"}, timeout=5
    ).json()
    assert [r["verb"] for r in over_http["items"]] == [
        "create",
        "patch",
        "delete",
        "deletecollection",
    ]
    new_mark = requests.post(f"{sandbox.url}/sandbox/requests/mark", timeout=5).json()["mark"]
    assert new_mark >= over_http["mark"]
    assert (
        requests.get(
            f"{sandbox.url}/sandbox/requests", params={"since": new_mark}, timeout=5
        ).json()["items"]
        == []
    )


def test_tokens_and_impersonation_identify_users(
    sandbox: SandboxHandle, sandbox_namespace: str
) -> None:
    sandbox.sandbox.users.add("alice-token", "alice", ("archive-users",))
    mark = sandbox.requests.mark()
    url = f"{sandbox.url}/api/v1/namespaces/{sandbox_namespace}/configmaps"
    requests.get(url, headers={"Authorization": "Bearer alice-token"}, timeout=5)
    requests.get(
        url, headers={**AUTH, "Impersonate-User": "bob", "Impersonate-Group": "admins"}, timeout=5
    )
    alice, bob = sandbox.requests.since(mark)
    assert (alice.user, alice.groups) == ("alice", ("archive-users", "system:authenticated"))
    assert (bob.user, bob.groups) == ("bob", ("admins", "system:authenticated"))


def test_table_for_custom_resource_columns(
    sandbox: SandboxHandle, custom: Any, sandbox_namespace: str
) -> None:
    custom.create_namespaced_custom_object(
        GROUP, VERSION, sandbox_namespace, PLURAL, widget("t", size=4, note="n")
    )
    custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        sandbox_namespace,
        PLURAL,
        "t",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    )
    url = f"{sandbox.url}/apis/{GROUP}/{VERSION}/namespaces/{sandbox_namespace}/{PLURAL}"
    table = requests.get(url, headers={**AUTH, **TABLE}, timeout=5).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", "string", 0),
        ("Size", "integer", 0),
        ("Color", "string", 0),
        ("Ready", "string", 0),
        ("Note", "string", 1),
        ("Age", "date", 0),
    ]
    row = table["rows"][0]
    assert row["cells"][:5] == ["t", 4, "blue", "False", "n"]
    assert (
        row["object"]["kind"] == "PartialObjectMetadata"
        and row["object"]["metadata"]["name"] == "t"
    )
    single = requests.get(
        url + "/t", headers={**AUTH, **TABLE}, params={"includeObject": "Object"}, timeout=5
    ).json()
    assert single["rows"][0]["object"]["spec"]["size"] == 4


def test_openapi_v3_advertises_field_validation(sandbox: SandboxHandle, api: Any) -> None:
    root = requests.get(f"{sandbox.url}/openapi/v3", headers=AUTH, timeout=5).json()
    ref = root["paths"][f"apis/{GROUP}/{VERSION}"]["serverRelativeURL"]
    doc = requests.get(sandbox.url + ref, headers=AUTH, timeout=5).json()
    patch = doc["paths"][f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}/{{name}}"][
        "patch"
    ]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": GROUP,
        "version": VERSION,
        "kind": "Widget",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    schema = doc["components"]["schemas"]["com.example.sandbox.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["size"]["maximum"] == 100


def test_a_thousand_custom_resources_with_cronjobs_stay_cheap() -> None:
    with Sandbox.threaded() as sb:
        sb.call(sb.apply_crd_files([CRD_FILE]))
        store = sb.store
        widgets = store.resource(GROUP, PLURAL)
        cronjobs = store.resource("batch", "cronjobs")

        async def populate() -> None:
            for i in range(1000):
                owner = await store.create(widgets, "default", widget(f"w{i}", size=i % 100))
                ref = {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Widget",
                    "name": f"w{i}",
                    "uid": owner["metadata"]["uid"],
                }
                template = {
                    "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}
                }
                await store.create(
                    cronjobs,
                    "default",
                    {
                        "metadata": {"name": f"w{i}-daily", "ownerReferences": [ref]},
                        "spec": {
                            "schedule": "@daily",
                            "jobTemplate": {"spec": {"template": template}},
                        },
                    },
                )

        started = time.monotonic()
        sb.call(populate(), timeout=120)
        elapsed = time.monotonic() - started
        client = kubernetes.config.new_client_from_config_dict(_config(sb.url))
        listed = kubernetes.client.BatchV1Api(client).list_namespaced_cron_job(
            "default", label_selector=""
        )
        assert len(listed.items) == 1000
        assert elapsed < 30, f"creating 2,000 objects took {elapsed:.1f}s"
        sb.call(store.delete(widgets, "default", "w7"))
        sb.call(store.gc.settle())
        assert store.peek(cronjobs.storage_key, "default", "w7-daily") is None


def _config(url: str) -> dict[str, Any]:
    from archive_sandbox.kubeconfig import kubeconfig

    return kubeconfig(url)


def test_cli_serves_writes_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    cli = Path(sys.executable).parent / "archive-sandbox"
    process = subprocess.Popen(
        [str(cli), "serve", "--kubeconfig", str(kubeconfig), "--crds", str(CRD_FILE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Stop with"):
                break
        output = "".join(lines)
        assert f"export KUBECONFIG={kubeconfig}" in output
        assert "widgets.sandbox.example.com" in output
        url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        assert url.startswith("http://127.0.0.1:")
        assert (
            requests.get(f"{url}/apis/{GROUP}/{VERSION}", headers=AUTH, timeout=5).status_code
            == 200
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
