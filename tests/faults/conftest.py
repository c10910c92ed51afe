"""Fixtures of the fault tests: a sandbox of their own (see harness.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.sandbox import SandboxHandle

from .harness import fault_sandbox

# One seed drives every random choice (fault draws, schedules, kill points); override it to
# explore: ARCHIVE_FAULT_SEED=123 pytest tests/faults
SEED = int(os.environ.get("ARCHIVE_FAULT_SEED", "20261128"))


@pytest.fixture(scope="module")
def fault_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with fault_sandbox(tmp_path_factory.mktemp("fault-sandbox")) as handle:
        yield handle


@pytest.fixture
def fault_namespace(fault_handle: SandboxHandle) -> Iterator[str]:
    name = f"f-{uuid.uuid4().hex[:8]}"
    fault_handle.create_namespace(name)
    yield name
    fault_handle.sandbox.faults.disable()
