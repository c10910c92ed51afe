"""The sandbox's request gate (sandbox/archive_sandbox/gate.py) over real HTTP: the k-th write
is held at the point asked for, and what happened to it when the connection is cut."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from archive_sandbox.app import Sandbox
from archive_sandbox.auth import DEFAULT_ADMIN_TOKEN, Users
from archive_sandbox.gate import GatePoint

CLIENT_TOKEN = "gated-client-token"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    users = Users()
    users.add(CLIENT_TOKEN, "gated")
    with Sandbox.threaded(users=users) as sb:
        yield sb


def client(sandbox: Sandbox, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread; its result or exception lands in the list."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # the cut connection, as the client sees it
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def exists(sandbox: Sandbox, name: str) -> bool:
    with client(sandbox, DEFAULT_ADMIN_TOKEN) as admin:
        return admin.get(f"{CONFIGMAPS}/{name}").status_code == 200


@pytest.mark.parametrize(("where", "applied"), [("before", False), ("applied", True)])
def test_the_kth_write_is_held_then_cut(sandbox: Sandbox, where: str, applied: bool) -> None:
    prefix = f"gate-{where}"
    sandbox.gate.arm(GatePoint("gated", frozenset({"configmaps"}), 2, where))
    with client(sandbox, CLIENT_TOKEN) as gated:
        assert gated.post(CONFIGMAPS, json=configmap(f"{prefix}-1")).status_code == 201
        thread, outcome = in_background(
            lambda: gated.post(CONFIGMAPS, json=configmap(f"{prefix}-2"))
        )
        assert sandbox.gate.wait_held(timeout=10)
        assert sandbox.gate.held_request == "create configmaps"
        assert outcome == []  # no answer while it is held
        sandbox.gate.release("drop")
        thread.join(10)
    assert isinstance(outcome[0], httpx.TransportError)  # never answered
    assert exists(sandbox, f"{prefix}-2") is applied


def test_after_holds_the_next_request_once_the_kth_is_answered(sandbox: Sandbox) -> None:
    sandbox.gate.arm(GatePoint("gated", frozenset({"configmaps"}), 1, "after"))
    with client(sandbox, CLIENT_TOKEN) as gated:
        assert gated.post(CONFIGMAPS, json=configmap("gate-after")).status_code == 201
        thread, outcome = in_background(lambda: gated.get(f"{CONFIGMAPS}/gate-after"))
        assert sandbox.gate.wait_held(timeout=10)
        assert sandbox.gate.held_request == "get configmaps/gate-after"
        sandbox.gate.release("pass")  # let it through this time
        thread.join(10)
    assert outcome[0].status_code == 200


def test_other_users_and_resources_pass(sandbox: Sandbox) -> None:
    sandbox.gate.arm(GatePoint("gated", frozenset({"secrets"}), 1, "before"))
    try:
        with client(sandbox, CLIENT_TOKEN) as gated, client(sandbox, DEFAULT_ADMIN_TOKEN) as admin:
            assert gated.post(CONFIGMAPS, json=configmap("gate-other-1")).status_code == 201
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
            assert admin.post("/api/v1/namespaces/default/secrets", json=secret).status_code == 201
        assert not sandbox.gate.wait_held(timeout=0.2)
    finally:
        sandbox.gate.disarm()
