"""Shared pieces of the sandbox conformance tests: the test CRD and API clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.fixtures.sandbox import SandboxHandle

CRD_FILE = Path(__file__).parent / "widgets-crd.yaml"
GROUP, VERSION, PLURAL = "sandbox.example.com", "v1", "widgets"


@pytest.fixture(scope="session")
def widgets_crd(sandbox: SandboxHandle) -> list[str]:
    return sandbox.apply_crds(CRD_FILE)


@pytest.fixture(scope="session")
def api(sandbox: SandboxHandle, widgets_crd: list[str]) -> Iterator[kubernetes.client.ApiClient]:
    client = sandbox.api_client()
    yield client
    client.close()


@pytest.fixture
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


@pytest.fixture
def custom(api: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api)


def widget(name: str, size: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }
