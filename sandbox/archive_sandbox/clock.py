"""The sandbox's one clock: real time by default, or frozen / sped up for tests and demos.

Every controller, the kubelet and the store's timestamps read `clock.now()`, so moving the clock
moves the whole sandbox at once:

    clock = Clock()                            # real time
    clock = Clock(start=datetime(2025, 3, 8, 23, 58, tzinfo=UTC), speed=0)   # frozen
    clock.advance(120)                         # a daily 23:59 schedule is now due
    clock.set_speed(60)                        # one sandbox minute per real second

`Timers` turns "wake me at sandbox time T" into asyncio callbacks that follow the clock: they fire
when the clock reaches T, whether it got there by running or by being set.

The API server's answers carry this clock's time in their `Date` header (`http_date`), as
kube-apiserver's carry its own: clients learn the cluster's time from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# Real seconds a timer waits at most before it looks at the clock again (guards against drift).
_MAX_REAL_WAIT = 60.0


class Clock:
    """Sandbox time = anchor + (real seconds since the anchor was set) * speed."""

    def __init__(self, *, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError(
                f"clock speed: {speed!r} is negative; use 0 to freeze, 1 for real time"
            )
        self._lock = threading.Lock()
        self._anchor = _aware(start) if start else datetime.now(UTC)
        self._real_anchor = time.monotonic()
        self._speed = float(speed)
        self._listeners: list[Callable[[], None]] = []

    # --- reading ------------------------------------------------------------------------

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._real_anchor) * self._speed
            return self._anchor + timedelta(seconds=elapsed)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def frozen(self) -> bool:
        return self._speed == 0

    def state(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "speed": self._speed,
            "frozen": self.frozen,
        }

    def real_seconds_until(self, moment: datetime) -> float | None:
        """Real seconds until the clock shows `moment` if left alone; None when frozen."""
        ahead = (moment - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        return None if self.frozen else ahead / self._speed

    # --- moving -------------------------------------------------------------------------

    def set(self, moment: datetime) -> None:
        self._reanchor(_aware(moment), self._speed)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError(
                f"clock speed: {speed!r} is negative; use 0 to freeze, 1 for real time"
            )
        self._reanchor(self.now(), float(speed))

    def freeze(self) -> None:
        self.set_speed(0)

    def _reanchor(self, moment: datetime, speed: float) -> None:
        with self._lock:
            self._anchor, self._real_anchor, self._speed = moment, time.monotonic(), speed
        for listener in list(self._listeners):
            listener()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every jump or speed change (on the thread that moved the clock)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, as Go's net/http writes the ``Date`` header (English names whatever
    the locale; the second truncated): ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    utc = _aware(moment).astimezone(UTC)
    return (
        f"{_WEEKDAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} GMT"
    )


def _bad_speed(speed: float) -> str:
    return f"clock speed: {speed!r} is negative; use 0 to freeze, 1 for real time"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Timers:
    """Callbacks at sandbox times, run on one event loop; they follow jumps of the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.clock.subscribe(self._clock_moved)
        self._task = self._loop.create_task(self._run(), name="sandbox-timers")

    async def stop(self) -> None:
        self.clock.unsubscribe(self._clock_moved)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._heap.clear()

    def at(self, moment: datetime, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (moment, next(self._seq), callback))
        self._wake.set()

    def fire_due(self) -> int:
        """Run every callback whose time has come; returns how many ran."""
        now, fired = self.clock.now(), 0
        while self._heap and self._heap[0][0] <= now:
            _, _, callback = heapq.heappop(self._heap)
            callback()
            fired += 1
        return fired

    def next_due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def _clock_moved(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            self.fire_due()
            wait = None
            if self._heap:
                wait = self.clock.real_seconds_until(self._heap[0][0])
            wait = _MAX_REAL_WAIT if wait is None else min(max(wait, 0.001), _MAX_REAL_WAIT)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
