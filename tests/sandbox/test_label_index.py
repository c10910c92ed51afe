"""LISTs by label selector go through the store's label index: it must follow label edits,
deletes and re-creates, across namespaces, exactly as a scan of every object would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import kubernetes
import pytest

from tests.fixtures.sandbox import SandboxHandle


@pytest.fixture
def namespaces(sandbox: SandboxHandle, core: kubernetes.client.CoreV1Api) -> Iterator[list[str]]:
    names = [f"idx-{suffix}-{uuid.uuid4().hex[:6]}" for suffix in ("a", "b")]
    for name in names:
        core.create_namespace({"metadata": {"name": name}})
    yield names
    for name in names:
        core.delete_namespace(name)


def _names(core: kubernetes.client.CoreV1Api, selector: str, ns: str | None = None) -> list[str]:
    if ns is None:
        items = core.list_config_map_for_all_namespaces(label_selector=selector).items
        return [f"{c.metadata.namespace}/{c.metadata.name}" for c in items]
    items = core.list_namespaced_config_map(ns, label_selector=selector).items
    return [c.metadata.name for c in items]


def test_index_follows_label_changes_deletes_and_recreates(
    core: kubernetes.client.CoreV1Api, namespaces: list[str]
) -> None:
    a, b = namespaces
    for ns in namespaces:
        for name in ("z", "m", "a"):
            core.create_namespaced_config_map(
                ns, {"metadata": {"name": name, "labels": {"idx": "one", "name": name}}}
            )
    assert _names(core, "idx=one", a) == ["a", "m", "z"]
    assert _names(core, "idx=one,name!=m") == [f"{a}/a", f"{a}/z", f"{b}/a", f"{b}/z"]
    assert _names(core, "idx=one,name=a") == [f"{a}/a", f"{b}/a"]
    assert _names(core, "name in (a, z),idx=one", b) == ["a", "z"]

    core.patch_namespaced_config_map("m", a, {"metadata": {"labels": {"idx": "two"}}})
    assert _names(core, "idx=one", a) == ["a", "z"]
    assert _names(core, "idx in (one, two)", a) == ["a", "m", "z"]
    assert _names(core, "idx=two") == [f"{a}/m"]

    core.patch_namespaced_config_map("m", a, {"metadata": {"labels": {"idx": None}}})
    assert _names(core, "idx=two") == []
    assert _names(core, "name=m", a) == ["m"]

    core.delete_namespaced_config_map("z", b)
    assert _names(core, "idx=one", b) == ["a", "m"]
    core.create_namespaced_config_map(b, {"metadata": {"name": "z", "labels": {"idx": "new"}}})
    assert _names(core, "idx=one", b) == ["a", "m"]
    assert _names(core, "idx=new") == [f"{b}/z"]
