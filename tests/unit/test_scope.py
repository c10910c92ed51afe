"""The resync's namespaces: kopf's --namespace patterns expanded like kopf expands them."""

from __future__ import annotations

import pytest
from archive_operator.scope import namespaces_in_scope

CLUSTER = ["default", "e2e-a", "e2e-b", "kube-system", "team-a", "team-a-pr-1"]


def no_listing() -> list[str]:
    raise AssertionError("exact names need no namespace listing")


def test_no_patterns_is_cluster_wide() -> None:
    assert namespaces_in_scope([], no_listing) == [None]


def test_exact_names_are_used_as_they_are_without_listing() -> None:
    assert namespaces_in_scope(["team-a", "default", "team-a"], no_listing) == ["team-a", "default"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["e2e-*"], ["e2e-a", "e2e-b"]),
        (["team-a", "e2e-?"], ["e2e-a", "e2e-b", "team-a"]),
        (["team-*,!*-pr-*"], ["team-a"]),
        (["!kube-*"], ["default", "e2e-a", "e2e-b", "team-a", "team-a-pr-1"]),
        (["nothing-*"], []),
    ],
)
def test_globs_are_expanded_with_kopfs_rule(patterns: list[str], expected: list[str]) -> None:
    assert namespaces_in_scope(patterns, lambda: CLUSTER) == expected
