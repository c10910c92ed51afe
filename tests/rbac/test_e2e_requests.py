"""The operator's requests of a whole e2e session, judged by the chart's RBAC (opt-in).

    pytest -p tests.e2e.request_capture tests/e2e --capture-operator-requests=/tmp/requests.json
    ARCHIVE_RBAC_E2E_REQUESTS=/tmp/requests.json pytest tests/rbac/test_e2e_requests.py

The e2e operator watches ``e2e-*`` (kopf then lists namespaces, as with the chart's listed
namespaces), so the chart is rendered for exactly the namespaces the suite used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.chart.helm import Helm

from .checks import (
    UNWATCHED,
    assert_all_allowed,
    assert_all_denied,
    listed_namespaces_values,
    moved,
)
from .rbac import Policy, Request
from .requests import CLUSTER_DEFAULTS, attributes

CAPTURED = os.environ.get("ARCHIVE_RBAC_E2E_REQUESTS")
pytestmark = pytest.mark.skipif(
    not CAPTURED, reason="set ARCHIVE_RBAC_E2E_REQUESTS (see the module doc)"
)


def captured() -> list[Request]:
    records = json.loads(Path(str(CAPTURED)).read_text())
    return list(dict.fromkeys(attributes(r) for r in records))


def is_pattern(namespace: str) -> bool:
    return any(ch in namespace for ch in "*?[")


def test_every_request_of_the_e2e_suite_is_allowed_by_the_chart(helm: Helm) -> None:
    requests = captured()
    namespaces = sorted({r.namespace for r in requests if r.is_resource and r.namespace})
    assert namespaces, f"no namespaced operator requests in {CAPTURED}"
    manifests = helm.render(set_values=listed_namespaces_values(namespaces))
    policy = Policy([*manifests, *CLUSTER_DEFAULTS])
    assert_all_allowed(policy, requests)
    # ... and only there: each of them, made in a namespace not listed, is denied.
    for namespace in UNWATCHED:
        assert_all_denied(policy, moved(requests, namespace), f"in {namespace}, not listed")


def test_no_request_names_a_namespace_pattern() -> None:
    assert [r.describe() for r in captured() if is_pattern(r.namespace)] == []
