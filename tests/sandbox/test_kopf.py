"""Conformance: a tiny real kopf operator runs against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.processes import stop_process
from tests.fixtures.sandbox import SandboxHandle

from .conftest import GROUP, PLURAL, VERSION, widget

OPERATOR = """
import os
from pathlib import Path

import kopf


@kopf.on.startup()
def configure(settings, **_):
    settings.posting.level = 0
    settings.watching.server_timeout = 30


@kopf.on.create("sandbox.example.com", "v1", "widgets")
def created(spec, name, body, patch, **_):
    kopf.info(body, reason="Created", message=f"widget {name} has size {spec['size']}")
    patch.status["phase"] = "Ready"
    patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Created"}]


@kopf.on.delete("sandbox.example.com", "v1", "widgets")
def deleted(name, **_):
    Path(os.environ["MARKER_DIR"], name).write_text("deleted")
"""


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def test_kopf_operator_handles_create_and_delete(
    sandbox: SandboxHandle, custom: Any, core: Any, sandbox_namespace: str, tmp_path: Path
) -> None:
    ns = sandbox_namespace
    (tmp_path / "op.py").write_text(OPERATOR)
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {
        **os.environ,
        "KUBECONFIG": str(sandbox.kubeconfig),
        "MARKER_DIR": str(markers),
        "HOME": str(tmp_path),
    }
    kopf = Path(sys.executable).parent / "kopf"
    log = (tmp_path / "kopf.log").open("w")
    mark = sandbox.requests.mark()
    process = subprocess.Popen(
        [str(kopf), "run", "--standalone", "-n", ns, str(tmp_path / "op.py")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: any(
                r.verb == "watch" and r.resource == PLURAL and r.namespace == ns
                for r in sandbox.requests.since(mark)
            )
        )
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, widget("k1", size=2))

        def ready() -> Any:
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "k1")
            return obj if obj.get("status", {}).get("phase") == "Ready" else None

        obj = wait_for(ready)
        assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]
        events = wait_for(
            lambda: (
                core.list_namespaced_event(
                    ns,
                    field_selector=f"involvedObject.name=k1,involvedObject.uid={obj['metadata']['uid']}",
                ).items
            )
        )
        assert events[0].reason == "Created" and events[0].message == "widget k1 has size 2"
        writers = {r.user_agent.split("/")[0] for r in sandbox.requests.writes_since(mark)}
        assert writers == {"kopf", "OpenAPI-Generator"}

        custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "k1")
        wait_for(lambda: (markers / "k1").exists())

        def gone() -> bool:
            return not custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]

        wait_for(gone)
    finally:
        stop_process(process, timeout=10)
        log.close()
    assert process.returncode is not None
