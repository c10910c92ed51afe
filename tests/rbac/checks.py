"""The two checks of the proof, with messages that list every offending request or grant."""

from __future__ import annotations

from collections.abc import Iterable

from .rbac import Permission, Policy, Request
from .scenario import OPERATOR


def assert_all_allowed(policy: Policy, requests: Iterable[Request]) -> None:
    """Each request is allowed to the operator's service account by ``policy``."""
    denied = sorted({r.describe() for r in requests if policy.authorize(OPERATOR, r) is None})
    assert not denied, "the chart's RBAC denies requests the operator made:\n  " + "\n  ".join(
        denied
    )


def assert_none_unused(unused: set[Permission]) -> None:
    listed = sorted(map(str, unused))
    assert not unused, "granted, never requested (use it, drop it, or justify it):\n  " + (
        "\n  ".join(listed)
    )


def listed_namespaces_values(namespaces: Iterable[str]) -> tuple[str, ...]:
    """``--set`` values for the chart's listed-namespaces scope."""
    return ("watch.allNamespaces=false", f"watch.namespaces={{{','.join(namespaces)}}}")
