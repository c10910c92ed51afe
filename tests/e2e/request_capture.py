"""Opt-in pytest plugin: save the operator's API requests of an e2e session for the RBAC proof.

    pytest -p tests.e2e.request_capture tests/e2e --capture-operator-requests=requests.json
    ARCHIVE_RBAC_E2E_REQUESTS=requests.json pytest tests/rbac

On the sandbox only. The e2e operator authenticates as the sandbox admin, so its requests are
told apart by user agent: kopf's (``kopf/``) and the operator's API client
(``OpenAPI-Generator/``); the tests themselves use kubectl. Namespaced requests outside the
e2e namespaces (``e2e-*``) are left out, in case other suites share the session's sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

OPERATOR_AGENTS = ("kopf/", "OpenAPI-Generator/")
E2E_NAMESPACE_PREFIX = "e2e-"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--capture-operator-requests",
        metavar="PATH",
        help="Write the e2e operator's API requests (sandbox request log) to PATH as JSON.",
    )


def operator_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The e2e operator's requests among a request log's records."""
    return [
        r
        for r in records
        if str(r.get("user_agent", "")).startswith(OPERATOR_AGENTS)
        and (not r.get("namespace") or str(r["namespace"]).startswith(E2E_NAMESPACE_PREFIX))
    ]


@pytest.fixture(scope="session", autouse=True)
def _capture_operator_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    path = request.config.getoption("--capture-operator-requests")
    if not path:
        yield
        return
    sandbox: Any = request.getfixturevalue("sandbox")  # torn down after this fixture
    mark = sandbox.requests.mark()
    yield
    records = [r.to_dict() for r in sandbox.requests.since(mark)]
    Path(path).write_text(json.dumps(operator_records(records), indent=1))
