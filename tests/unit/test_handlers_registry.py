"""What the operator registers with kopf: only event handlers, so kopf keeps nothing on the
objects and needs no diff base (handlers/startup.py, NoDiffBaseStorage)."""

from __future__ import annotations

import kopf
from archive_operator import handlers  # noqa: F401  (registers the handlers)
from archive_operator.handlers.startup import NoDiffBaseStorage


def test_there_are_no_create_update_resume_handlers_daemons_or_timers() -> None:
    # kopf's registry internals: pinned here because NoDiffBaseStorage relies on it.
    registry = kopf.get_default_registry()
    assert list(registry._changing.get_all_handlers()) == []
    assert list(registry._spawning.get_all_handlers()) == []
    watched = {h.id for h in registry._watching.get_all_handlers()}
    assert {"schedule_changed", "owned_cronjob_changed", "run_changed"} <= watched


def test_the_diff_base_is_empty_and_cheap() -> None:
    storage = NoDiffBaseStorage(prefix="operator.example.com", key="last-handled-configuration")
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"big": list(range(1000))}})
    assert storage.build(body=body) == {}
