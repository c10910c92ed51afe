"""One-off rechecks (handlers/startup.py): asked for from worker threads, run on time, one per
schedule (the earliest wins), and a failing one does not stop the others."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from archive_operator.handlers.startup import Rechecks


def test_the_earliest_recheck_per_schedule_runs_once_and_others_run_too() -> None:
    done: list[tuple[str, str, float]] = []
    finished = threading.Event()

    def reconcile(namespace: str, name: str) -> None:
        done.append((namespace, name, time.monotonic() - began))
        if name == "bad":
            raise RuntimeError("the API went away")
        if len(done) == 3:
            finished.set()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(2) as executor:
            rechecks = Rechecks(loop, executor)
            rechecks.reconcile = reconcile
            asking = [
                ("ns", "alice", 1.5),
                ("ns", "alice", 0.2),  # earlier: replaces the first
                ("ns", "alice", 1.0),  # later than the pending one: ignored
                ("ns", "bad", 0.1),
                ("ns", "bob", 0.3),
            ]
            # From a worker thread, as the reconcile asks.
            await loop.run_in_executor(executor, lambda: [rechecks(*a) for a in asking])
            await loop.run_in_executor(executor, finished.wait, 5)
            await asyncio.sleep(1.5)  # the replaced and ignored ones would have run by now
            assert rechecks.pending == {}

    began = time.monotonic()
    asyncio.run(scenario())

    # Once each, the failing one included; alice at 0.2 s, neither at 1.0 s nor at 1.5 s.
    assert sorted((ns, name) for ns, name, _ in done) == [
        ("ns", "alice"),
        ("ns", "bad"),
        ("ns", "bob"),
    ]
    alice = next(at for _, name, at in done if name == "alice")
    assert 0.15 < alice < 0.9


def test_cancel_all_drops_what_is_pending() -> None:
    done: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as executor:
            rechecks = Rechecks(loop, executor)
            rechecks.reconcile = lambda ns, name: done.append(name)
            rechecks("ns", "alice", 0.1)
            await asyncio.sleep(0.02)  # the call_soon_threadsafe hop
            assert list(rechecks.pending) == [("ns", "alice")]
            rechecks.cancel_all()
            await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert done == []
