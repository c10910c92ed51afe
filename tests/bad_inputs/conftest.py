"""A sandbox of its own for the bad input corpus (the fault tests' harness, faults off)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.faults.harness import fault_sandbox
from tests.fixtures.sandbox import SandboxHandle


@pytest.fixture(scope="module")
def bad_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with fault_sandbox(tmp_path_factory.mktemp("bad-inputs")) as handle:
        yield handle


@pytest.fixture(scope="module")
def bad_namespace(bad_handle: SandboxHandle) -> str:
    return bad_handle.create_namespace(f"b-{uuid.uuid4().hex[:8]}")
