"""A sandbox with a frozen clock and `busybox` mapped to host commands, for workload tests.

    def test_x(wl: Harness) -> None:
        wl.create("jobs", job("hello", "echo hi"))
        wl.wait_for(lambda: wl.finished("jobs", "hello"))
        wl.advance(60)                   # moves the clock, then waits for the controllers

Each test gets its own namespace (`wl.ns`); the sandbox is shared by a test module.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from archive_sandbox.app import Sandbox
from archive_sandbox.kubelet_spec import ImageRule

from tests.fixtures.sandbox import SandboxHandle

T = TypeVar("T")
START = datetime(2025, 3, 9, 23, 58, tzinfo=UTC)
KINDS = {
    "pods": ("", "pods"),
    "jobs": ("batch", "jobs"),
    "cronjobs": ("batch", "cronjobs"),
    "secrets": ("", "secrets"),
    "configmaps": ("", "configmaps"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
    "events": ("", "events"),
}


def busybox(script: str, name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", script], **extra}


def pod_spec(*containers: dict[str, Any], restart: str = "Never", **extra: Any) -> dict[str, Any]:
    return {"restartPolicy": restart, "containers": list(containers), **extra}


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    template = spec.pop("template", None) or {"spec": pod_spec(busybox(script))}
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def cronjob(name: str, schedule: str, script: str = "true", **spec: Any) -> dict[str, Any]:
    job_spec = spec.pop("job_spec", {})
    template = spec.pop("template", None) or {"spec": pod_spec(busybox(script))}
    return {
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": template, **job_spec}},
            **spec,
        },
    }


class Harness:
    def __init__(self, sandbox: Sandbox, handle: SandboxHandle) -> None:
        self.sandbox = sandbox
        self.handle = handle
        self.store = sandbox.store
        self.clock = sandbox.workloads.clock
        self.ns = ""

    def call(self, coro: Any) -> Any:
        return self.sandbox.call(coro)

    def settle(self) -> None:
        self.call(self.sandbox.workloads.settle())

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def set_time(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.settle()

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        rt = self.store.resource(*KINDS[kind])
        made = self.call(self.store.create(rt, self.ns, body))
        self.settle()
        return made  # type: ignore[no-any-return]

    def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        rt = self.store.resource(*KINDS[kind])
        made = self.call(self.store.patch(rt, self.ns, name, "merge", body))
        self.settle()
        return made  # type: ignore[no-any-return]

    def delete(self, kind: str, name: str, policy: str = "Background") -> None:
        rt = self.store.resource(*KINDS[kind])
        self.call(self.store.delete(rt, self.ns, name, propagation_policy=policy))
        self.settle()

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.store.peek(KINDS[kind], self.ns, name)  # type: ignore[no-any-return]

    def list(self, kind: str) -> list[dict[str, Any]]:
        return self.store.iter_objects(KINDS[kind], self.ns)  # type: ignore[no-any-return]

    def names(self, kind: str) -> list[str]:
        return [o["metadata"]["name"] for o in self.list(kind)]

    def events(self, reason: str) -> list[str]:
        return [e["message"] for e in self.list("events") if e.get("reason") == reason]

    def condition(self, kind: str, name: str, type_: str) -> dict[str, Any] | None:
        obj = self.get(kind, name) or {}
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond["type"] == type_ and cond["status"] == "True":
                return cond  # type: ignore[no-any-return]
        return None

    def pods_of(self, job_name: str) -> list[dict[str, Any]]:
        return [p for p in self.list("pods") if p["metadata"]["labels"].get("job-name") == job_name]

    def wait_for(self, check: Callable[[], T | None], what: str = "", timeout: float = 15.0) -> T:
        """Poll (settling the controllers each time) until `check` is truthy: real processes."""
        deadline = time.monotonic() + timeout
        while True:
            self.settle()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            time.sleep(0.01)

    def phase(self, pod: dict[str, Any]) -> str:
        current = self.get("pods", pod["metadata"]["name"]) or {}
        return str((current.get("status") or {}).get("phase", ""))

    def kubectl(self, *args: str, check: bool = True) -> Any:
        return self.handle.kubectl(*args, namespace=self.ns, check=check)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.fixture(scope="module", name="wl_sandbox")
def wl_sandbox_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Sandbox, SandboxHandle]]:
    sb = Sandbox()
    sb.workloads.clock.set(START)
    sb.workloads.clock.freeze()
    sb.workloads.images = [ImageRule(image="busybox")]
    sb.start_in_thread()
    try:
        yield sb, SandboxHandle(sb, tmp_path_factory.mktemp("wl"))
    finally:
        sb.stop_thread()


@pytest.fixture(name="wl")
def wl_fixture(wl_sandbox: tuple[Sandbox, SandboxHandle]) -> Iterator[Harness]:
    harness = Harness(*wl_sandbox)
    harness.ns = harness.handle.create_namespace(f"w-{uuid.uuid4().hex[:8]}")
    yield harness
    harness.handle.delete_namespace(harness.ns)
