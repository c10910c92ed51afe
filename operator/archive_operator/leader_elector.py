"""Leader election at run time: the Lease's I/O, the renewal and watchdog threads, and the
standby's health endpoint. The decisions are leader_election.py's (pure); this module carries
them out.

How main.py uses it (``run_elected``): a candidate reads the Lease until it holds it, serving
``/healthz`` meanwhile (the Deployment's probes see a live standby); then it starts renewing and
runs kopf (peering off: the Lease replaces it). Losing the Lease — no successful renewal within
the renew deadline, or the Lease found in another's hands — ends the process at once with exit
status ``LOST_EXIT_STATUS`` (a thread calls ``os._exit``: kopf's handler threads cannot be
cancelled, and the bound in leader_election.py needs every one of them stopped); the container
restarts as a standby. A clean stop (SIGTERM: a rolling update, a scale-down) lets kopf finish,
then releases the Lease, so the standby takes over at its next read, not after the expiry.

The Lease requests go through ``Kube.request`` (kube.py: the client's transport and error
mapping) with a timeout no longer than the time left before the renew deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from .errors import Conflict, KubeError, NotFound
from .leader_election import (
    LEASE_API,
    Observed,
    Timings,
    Verdict,
    decide,
    lease_manifest,
    observe,
    released_spec,
    step_down_at,
    written_spec,
)

log = logging.getLogger(__name__)

Manifest = dict[str, Any]
# The exit status of a holder that lost its Lease (EX_TEMPFAIL: the restart is the remedy).
LOST_EXIT_STATUS = 75


class LeaseApi(Protocol):
    """The three requests on the one Lease (KubeLeaseApi; a fake in the unit tests)."""

    def get(self, timeout: float) -> Manifest | None: ...  # None: 404

    def create(self, lease: Manifest, timeout: float) -> Manifest: ...

    def update(self, lease: Manifest, timeout: float) -> Manifest: ...  # Conflict: stale


class KubeLeaseApi:
    """GET / POST / PUT of ``namespace/name`` through kube.Kube (RBAC: get, create and update
    leases in the release namespace; get and update only by this name)."""

    def __init__(self, kube: Any, name: str, namespace: str) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.collection = f"{LEASE_API}/namespaces/{quote(namespace)}/leases"

    def get(self, timeout: float) -> Manifest | None:
        try:
            lease: Manifest = self.kube.request(
                "GET", f"{self.collection}/{quote(self.name)}", timeout=timeout
            )
        except NotFound:
            return None
        return lease

    def create(self, lease: Manifest, timeout: float) -> Manifest:
        created: Manifest = self.kube.request("POST", self.collection, body=lease, timeout=timeout)
        return created

    def update(self, lease: Manifest, timeout: float) -> Manifest:
        path = f"{self.collection}/{quote(self.name)}"
        updated: Manifest = self.kube.request("PUT", path, body=lease, timeout=timeout)
        return updated


def exit_lost(reason: str) -> None:
    """Stop everything now: no clean-up, no more requests (see the module doc)."""
    log.critical("leader election: lost the lease (%s); exiting to stop reconciling", reason)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # exiting anyway
            handler.flush()
    sys.stderr.flush()
    os._exit(LOST_EXIT_STATUS)


class Elector:
    """One candidate. ``step`` is one round (read, decide, write); ``acquire`` repeats it until
    the Lease is held; ``start_renewing`` then renews every retry period in a thread, and a
    watchdog thread calls ``on_lost`` at the renew deadline unless a renewal moved it on.

    ``clock`` (monotonic seconds) and ``wall`` (the times written into the Lease) are
    injectable for the tests; so is ``on_lost`` (default: ``exit_lost``).
    """

    def __init__(
        self,
        api: LeaseApi,
        identity: str,
        timings: Timings,
        *,
        name: str = "",
        namespace: str = "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_lost: Callable[[str], None] = exit_lost,
    ) -> None:
        timings.check()
        self.api = api
        self.identity = identity
        self.timings = timings
        self.name = name
        self.namespace = namespace
        self.clock = clock
        self.wall = wall
        self.on_lost = on_lost
        self.observed: Observed | None = None
        self._lock = threading.Lock()
        self._leading = False
        self._last_sent = 0.0  # when the last successful acquisition/renewal was sent
        self._reread = True  # read before writing (after a conflict, or at first)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.holder = ""  # the holder last seen (for the logs and the standby's /healthz)

    # --- state --------------------------------------------------------------------------------

    @property
    def leading(self) -> bool:
        with self._lock:
            return self._leading

    def deadline(self) -> float:
        """When the holder must have stopped (monotonic); meaningless when not leading."""
        with self._lock:
            return step_down_at(self._last_sent, self.timings)

    def _won(self, lease: Manifest, sent: float) -> None:
        self.observed = observe(self.observed, lease, self.clock())
        self._reread = False
        self.holder = self.identity
        with self._lock:
            was_leading, self._leading = self._leading, True
            self._last_sent = max(self._last_sent, sent)
        if not was_leading:
            log.info(
                "leader election: became the leader of lease %s as %s", self.name, self.identity
            )

    def _lose(self, reason: str) -> None:
        with self._lock:
            was_leading, self._leading = self._leading, False
        if was_leading:
            self._stop.set()
            self.on_lost(reason)

    # --- one round ----------------------------------------------------------------------------

    def _timeout(self) -> float:
        """A request may take no longer than the time left before the renew deadline."""
        if not self.leading:
            return self.timings.renew_deadline
        return max(0.1, self.deadline() - self.clock())

    def step(self) -> float:
        """One round; returns the seconds to wait before the next one."""
        sent = self.clock()
        timeout = self._timeout()
        retry = self.timings.retry_period
        try:
            record = self.observed.record if self.observed else None
            if self.leading and not self._reread and record and record.holder == self.identity:
                # Renewal: write straight away with the resourceVersion of the last write.
                spec = written_spec(Verdict.RENEW, record, self.identity, self.wall(), self.timings)
                assert self.observed is not None
                body = lease_manifest(
                    self.name, self.namespace, spec, self.observed.resource_version
                )
                self._won(self.api.update(body, timeout), sent)
                return retry
            lease = self.api.get(timeout)
            self.observed = observe(self.observed, lease, self.clock())
            self._reread = False
            decision = decide(self.observed, self.identity, self.clock(), self.timings)
            current = self.observed.record
            if decision.verdict is Verdict.WAIT:
                if current is not None and current.holder != self.holder:
                    log.info("leader election: standby, %s", decision.reason)
                    self.holder = current.holder
                if self.leading:
                    self._lose(f"the lease is {decision.reason}")
                return decision.wait
            spec = written_spec(decision.verdict, current, self.identity, self.wall(), self.timings)
            body = lease_manifest(self.name, self.namespace, spec, self.observed.resource_version)
            if decision.verdict is Verdict.CREATE:
                self._won(self.api.create(body, timeout), sent)
            else:
                if decision.verdict is Verdict.TAKE_OVER:
                    log.info("leader election: taking over, %s", decision.reason)
                self._won(self.api.update(body, timeout), sent)
            return retry
        except Conflict as exc:  # another candidate wrote first (or the Lease was just made)
            log.info("leader election: conflict (%s); reading the lease again", exc)
            self._reread = True
            return retry if not self.leading else retry / 4
        except KubeError as exc:
            log.warning("leader election: %s", exc)
            self._reread = True
            return retry

    # --- loops --------------------------------------------------------------------------------

    def acquire(self, stop: threading.Event) -> bool:
        """Rounds until the Lease is held (True) or ``stop`` is set (False)."""
        log.info("leader election: candidate %s for lease %s", self.identity, self.name)
        while not stop.is_set():
            wait = self.step()
            if self.leading:
                return True
            stop.wait(wait)
        return False

    def start_renewing(self) -> None:
        self._stop.clear()
        for target, name in ((self._renew_loop, "lease-renewal"), (self._watchdog, "lease-watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _renew_loop(self) -> None:
        wait = self.timings.retry_period
        while not self._stop.wait(wait):
            if not self.leading:
                return
            wait = self.step()

    def _watchdog(self) -> None:
        """Fires ``on_lost`` at the renew deadline; independent of the renewal's requests, which
        may hang (a partition) for all their timeouts promise."""
        while True:
            with self._lock:
                if not self._leading:
                    return
                left = step_down_at(self._last_sent, self.timings) - self.clock()
            if left <= 0:
                self._lose(
                    f"no renewal within the renew deadline ({self.timings.renew_deadline:g} s)"
                )
                return
            if self._stop.wait(min(left, self.timings.retry_period)):
                return

    def stop_renewing(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timings.renew_deadline)
        self._threads.clear()

    def release(self) -> None:
        """A clean stop: stop renewing, then hand the Lease back (holder empty) if still mine."""
        self.stop_renewing()
        with self._lock:
            was_leading, self._leading = self._leading, False
        observed = self.observed
        if not was_leading or observed is None or observed.record is None:
            return
        body = lease_manifest(
            self.name,
            self.namespace,
            released_spec(observed.record, self.wall()),
            observed.resource_version,
        )
        try:
            self.api.update(body, self.timings.retry_period)
            log.info("leader election: released lease %s", self.name)
        except KubeError as exc:  # it expires anyway
            log.warning("leader election: could not release the lease: %s", exc)


# --- the standby's health endpoint ------------------------------------------------------------


async def serve_standby_health(endpoint: str, elector: Elector) -> Callable[[], Awaitable[None]]:
    """Serve GET <path> at ``endpoint`` (kopf's liveness URL) while waiting for the Lease;
    returns the coroutine function that stops it (before kopf binds the same port)."""
    import aiohttp.web  # kopf's dependency

    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http":
        raise ValueError(f"unsupported liveness endpoint {endpoint!r}: http://HOST:PORT/PATH")

    async def health(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"leader": False, "holder": elector.holder})

    app = aiohttp.web.Application()
    app.add_routes([aiohttp.web.get(parts.path or "/", health)])
    runner = aiohttp.web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, parts.hostname or "127.0.0.1", parts.port or 80)
    await site.start()

    async def stop() -> None:
        await runner.cleanup()

    return stop


async def run_elected(
    elector: Elector,
    operator: Callable[[], Awaitable[None]],
    liveness_endpoint: str | None,
) -> int:
    """Wait for the Lease (serving health), then run ``operator`` (kopf) while holding it.
    Returns the exit status: 0 after a clean stop (the Lease released) or a stop while
    standing by. Losing the Lease does not return (exit_lost)."""
    import signal

    loop = asyncio.get_running_loop()
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    stop_health = (
        await serve_standby_health(liveness_endpoint, elector) if liveness_endpoint else None
    )
    try:
        acquired = await asyncio.to_thread(elector.acquire, stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if stop_health is not None:
            await stop_health()
    if not acquired:
        log.info("leader election: stopped while standing by")
        return 0
    elector.start_renewing()
    try:
        await operator()  # kopf installs its own SIGINT/SIGTERM handlers: a clean stop
    finally:
        await asyncio.to_thread(elector.release)
    return 0
