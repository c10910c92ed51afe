"""Operator start-up and shutdown: kopf configuration, the API client, the resync loop.

Kopf is configured so that a resync with nothing to change makes no write request:

* Progress and diff-base bookkeeping go to annotations under operator.archive.auriora.io
  (never to ``status.kopf``: the CRD has no such field and the API server would prune it).
  Kopf writes the diff base only after a create or a spec change, and progress only while a
  handler is being retried; a resume of an unchanged object writes neither.
* Kopf's event posting is off (kopf 1.45 would post its log lines as Events if
  ``posting.loggers`` were on: a write per handler run); the reconciler posts Events itself,
  only when something changed (a CronJob written or deleted, Ready changed).
* Handlers return None, so kopf has no result to store in the status.
* The periodic drift check is an operator-wide loop, not a ``kopf.timer``: kopf timers put a
  finalizer on every object, which would make deleting a schedule depend on the operator
  running, and cost a write per new object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from .. import constants as c
from ..kube import Kube, load_api_client
from ..reconciler import Reconciler
from ..settings import Settings

log = logging.getLogger(__name__)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    settings.posting.enabled = False
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{c.KOPF_PREFIX}/finalizer"
    settings.execution.max_workers = 8


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    configure_kopf(settings)
    operator_settings: Settings = memo["settings"]
    memo["reconciler"] = Reconciler(Kube(load_api_client()), operator_settings)
    memo["resync_task"] = asyncio.get_running_loop().create_task(resync_loop(memo))


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("resync_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def resync_loop(memo: kopf.Memo) -> None:
    """Every resync interval, reconcile every schedule in scope (the drift check)."""
    settings: Settings = memo["settings"]
    reconciler: Reconciler = memo["reconciler"]
    namespaces: list[str | None] = list(memo["namespaces"]) or [None]
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.resync_seconds)
        try:
            await loop.run_in_executor(None, reconciler.resync, namespaces)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("resync failed")
