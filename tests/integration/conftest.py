"""Fixtures: the operator running under real kopf (a subprocess) against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from archive_operator.errors import NotFound
from archive_operator.kube import Kube

from tests.fixtures.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = str(Path(sys.executable).parent / "archive-operator")
RESYNC_SECONDS = 1.5
T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None], what: str, timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except NotFound:
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class OperatorProcess:
    """``archive-operator run --standalone --namespace NS`` with the sandbox's kubeconfig."""

    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": "archive-runner:test",
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": str(RESYNC_SECONDS),
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [OPERATOR, "run", "--standalone", "--namespace", self.namespace, "--verbose"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def crds(sandbox: Any) -> None:
    sandbox.apply_crds(*sorted((ROOT / "crds").glob("*.yaml")))


@pytest.fixture(scope="module")
def namespace(sandbox: Any, crds: None) -> Iterator[str]:
    name = f"op-{uuid.uuid4().hex[:8]}"
    sandbox.create_namespace(name)
    yield name
    sandbox.delete_namespace(name)


@pytest.fixture(scope="module")
def operator(
    sandbox: Any, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        sandbox.kubeconfig, namespace, tmp_path_factory.mktemp("operator") / "operator.log"
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()
        print(process.logs()[-5000:])


@pytest.fixture(scope="module")
def kube(sandbox: Any) -> Kube:
    return Kube(sandbox.api_client())


@pytest.fixture
def apply(sandbox: Any, namespace: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(manifest: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sandbox.kubectl(  # type: ignore[no-any-return]
            "apply", "-f", "-", input=manifest, namespace=namespace, check=check
        )

    return run
