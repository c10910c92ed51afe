"""Archive windows: inclusive local dates in a time zone, and the UTC range they cover.

Pure functions only; the caller supplies "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .contract import scheduled_time_from_job_name, window_dates, window_last_offset


@dataclass(frozen=True)
class Window:
    """Inclusive local dates ``start``..``end`` in ``zone``."""

    start: date
    end: date
    zone: ZoneInfo

    @property
    def local_start(self) -> datetime:
        """Local midnight at the start of ``start`` (aware, in ``zone``)."""
        return local_midnight(self.start, self.zone)

    @property
    def local_end(self) -> datetime:
        """Local midnight at the end of ``end``: exclusive upper bound (aware, in ``zone``)."""
        return local_midnight(self.end + timedelta(days=1), self.zone)

    @property
    def utc_start(self) -> datetime:
        return self.local_start.astimezone(UTC)

    @property
    def utc_end(self) -> datetime:
        return self.local_end.astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query_range(self) -> tuple[datetime, datetime]:
        """A UTC range wide enough for any server's interpretation of floating and all-day
        events (UTC offsets span -12..+14 h); events are then filtered precisely in ``zone``."""
        margin = timedelta(hours=14)
        return self.utc_start - margin, self.utc_end + margin


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``.

    Where midnight falls in a DST gap (e.g. America/Santiago, America/Havana) the wall time
    00:00 does not exist; ``fold=0`` gives the pre-transition offset, which is the instant
    the day actually begins.
    """
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def relative_window(
    reference: datetime, zone: ZoneInfo, offset_days: int, window_days: int
) -> Window:
    """The ``window_days`` local days starting ``offset_days`` from the reference's local day.

    ``offset_days`` is the first day (the runner contract, contract.window_dates):
    ``(0, 1)`` is the reference's own local day; ``(-6, 7)`` the week ending on it. The last
    day, ``offset_days + window_days - 1``, may not be after the reference's day.
    """
    if window_days < 1:
        raise ValueError("window_days must be >= 1")
    if window_last_offset(offset_days, window_days) > 0:
        raise ValueError("offset_days + window_days - 1 must be <= 0")
    start, end = window_dates(reference.astimezone(zone).date(), offset_days, window_days)
    return Window(start=start, end=end, zone=zone)


def reference_time(explicit: datetime | None, job_name: str | None, now: datetime) -> datetime:
    """The instant a relative window is measured from: explicit, else the CronJob's scheduled
    minute (so a 23:59 run whose pod starts after midnight still archives its day), else now."""
    if explicit is not None:
        return explicit
    return scheduled_time_from_job_name(job_name) or now
