"""One clock: the cluster's. The time the API server keeps, learned from its answers.

Objects carry the API server's times (creationTimestamp, a CronJob's lastScheduleTime), so the
operator and the plugin compare them with the API server's "now", not the local clock: a node
whose clock is off, or the sandbox's movable clock (tests, the demo), would otherwise put them
hours apart (``AGE <invalid>``, a day counted complete too early).

Every HTTP answer of kube-apiserver carries a ``Date`` header (Go's net/http adds it; the
sandbox sends its own clock's time). :class:`ClusterClock` keeps the offset between that time and
the local one and reads ``local now + offset``::

    clock = ClusterClock()
    clock.observe(response.headers.get("Date"))   # right after each answer's headers arrive
    clock.now()                                   # the cluster's time, an aware UTC datetime

How the offset is learned (the pure parts below are unit-tested by hand):

* ``Date`` has one-second resolution (the server's time truncated), so an answer received at
  local time ``r`` says the server's time then was in ``[Date, Date + 1)``: the estimate is
  ``Date + 0.5 - r``, within half a second (plus the answer's latency) of the truth.
* Two estimates of an unchanged offset differ by up to a second, so the offset moves only when a
  new estimate differs from it by more than :data:`TOLERANCE_SECONDS`: readings do not jitter.
* :meth:`ClusterClock.now` never goes backwards between two calls (an offset corrected down by a
  second or two holds the clock still until the local clock catches up), except when the offset
  jumps by more than :data:`JUMP_SECONDS`: the cluster's clock really moved (the sandbox's clock
  set back in a test, or a node clock stepped), and then ``now()`` follows it at once.

Before the first answer it is the local clock. Thread-safe: the operator's API calls run in a
thread pool. Imports only the standard library's lightest modules (the plugin's start-up).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

# An estimate within this many seconds of the current offset leaves it alone (the 1 s resolution).
TOLERANCE_SECONDS = 1.0
# An offset that changes by more than this is a jump of the cluster's clock: now() follows it even
# backwards. Smaller corrections never make now() go back.
JUMP_SECONDS = 3.0
# Half of the Date header's resolution: the server's time was, on average, this far past Date.
HALF_RESOLUTION = 0.5

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d\d):(\d\d):(\d\d)"
# RFC 7231 section 7.1.1.1: the preferred IMF-fixdate and the two obsolete forms a recipient
# must still accept.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) " + _MONTH + r" (\d{4}) " + _TIME + " GMT", re.ASCII
)
_RFC850 = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-"
    + _MONTH
    + r"-(\d\d) "
    + _TIME
    + " GMT",
    re.ASCII,
)
_ASCTIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MONTH + r" ([ \d]\d) " + _TIME + r" (\d{4})", re.ASCII
)


def parse_http_date(text: str | None, *, current_year: int | None = None) -> float | None:
    """Seconds since the epoch of an RFC 7231 HTTP-date (``Sun, 06 Nov 1994 08:49:37 GMT``, or
    an obsolete RFC 850 or asctime form); None if ``text`` is none of them.

    ``current_year`` (default: this year, UTC) places an RFC 850 two-digit year: one more than
    50 years ahead is the most recent past year with the same last two digits (RFC 7231).
    """
    if not text:
        return None
    text = text.strip()
    if match := _IMF_FIXDATE.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
    elif match := _ASCTIME.fullmatch(text):
        month, day, hour, minute, second, year = match.groups()
    elif match := _RFC850.fullmatch(text):
        day, month, short_year, hour, minute, second = match.groups()
        if current_year is None:
            current_year = time.gmtime().tm_year
        full = current_year - current_year % 100 + int(short_year)
        year = str(full - 100 if full > current_year + 50 else full)
    else:
        return None
    try:
        moment = datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:  # 31 Feb, 25:00, a leap second: not a time we can use
        return None
    return moment.timestamp()


def estimate_offset(date: float, received: float) -> float:
    """The offset (cluster minus local, seconds) one answer suggests: ``date`` is its Date header
    (whole seconds since the epoch), ``received`` the local time its headers arrived."""
    return date + HALF_RESOLUTION - received


def next_offset(
    current: float | None, estimate: float, tolerance: float = TOLERANCE_SECONDS
) -> float:
    """The offset after a new estimate: the estimate if there was none yet or it differs from
    ``current`` by more than ``tolerance``; else ``current`` unchanged."""
    if current is None or abs(estimate - current) > tolerance:
        return estimate
    return current


def is_jump(old: float, new: float, jump: float = JUMP_SECONDS) -> bool:
    """Whether moving the offset from ``old`` to ``new`` is the cluster's clock jumping (now()
    may then go backwards), rather than a correction of the estimate."""
    return abs(new - old) > jump


class ClusterClock:
    """The API server's time: the local clock plus an offset learned from answers' Date headers.

    ``local`` is the local clock in seconds since the epoch (tests pass a fake one).
    """

    def __init__(self, local: Callable[[], float] = time.time) -> None:
        self._local = local
        self._lock = threading.Lock()
        self._offset = 0.0
        self._learned = False
        self._floor: float | None = None  # the last time now() returned, unless a jump reset it

    @property
    def offset(self) -> float:
        """Seconds the cluster's clock is ahead of the local one (negative: behind)."""
        with self._lock:
            return self._offset

    @property
    def learned(self) -> bool:
        """Whether an answer has told the cluster's time yet (before that: the local clock)."""
        with self._lock:
            return self._learned

    def observe(self, date: str | None, received: float | None = None) -> None:
        """Learn from one answer's ``Date`` header (None or unparsable: ignored). ``received``:
        the local time its headers arrived, default now: call this as soon as they have."""
        if received is None:
            received = self._local()
        seconds = parse_http_date(date)
        if seconds is None:
            return
        estimate = estimate_offset(seconds, received)
        with self._lock:
            new = next_offset(self._offset if self._learned else None, estimate)
            if is_jump(self._offset, new):
                self._floor = None  # the cluster's clock moved: now() may go back with it
            self._offset = new
            self._learned = True

    def timestamp(self) -> float:
        """The cluster's time in seconds since the epoch; never less than the previous reading
        unless the offset jumped in between."""
        with self._lock:
            reading = self._local() + self._offset
            if self._floor is not None and reading < self._floor:
                reading = self._floor
            self._floor = reading
            return reading

    def now(self) -> datetime:
        """The cluster's time, an aware UTC datetime (what ``datetime.now(UTC)`` would be)."""
        return datetime.fromtimestamp(self.timestamp(), UTC)
