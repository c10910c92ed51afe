"""Which namespaces the operator serves, as kopf reads its ``--namespace`` patterns.

The periodic resync lists schedules namespace by namespace; a glob such as ``team-*`` or
``*,!kube-*`` is not a namespace, so it is expanded against the cluster's namespaces with kopf's
own matching rule, so the resync covers exactly what kopf's watches cover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

# kopf's matcher is not public API; it is the rule kopf itself applies to the same patterns,
# and tests/unit/test_scope.py pins the behaviour we rely on.
from kopf._cogs.structs.references import NamespaceName, match_namespace

GLOB_CHARACTERS = frozenset("*?!,")


def is_exact(pattern: str) -> bool:
    return not GLOB_CHARACTERS & set(pattern)


def namespaces_in_scope(
    patterns: Sequence[str], list_namespaces: Callable[[], Iterable[str]]
) -> list[str | None]:
    """The namespaces to list schedules in; ``[None]`` means cluster-wide.

    ``list_namespaces`` is called only when a pattern is a glob (kopf lists namespaces then too,
    so the installation grants it).
    """
    if not patterns:
        return [None]
    exact = [p for p in patterns if is_exact(p)]
    if len(exact) == len(patterns):
        return list(dict.fromkeys(exact))
    names = set(exact)
    for namespace in list_namespaces():
        if any(match_namespace(NamespaceName(namespace), p) for p in patterns if not is_exact(p)):
            names.add(namespace)
    return [*sorted(names)]
