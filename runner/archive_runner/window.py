"""Archive windows: inclusive local dates in a time zone, and the UTC range they cover.

Pure functions only; the caller supplies "now".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A Kubernetes CronJob names each Job "<cronjob>-<scheduled time in minutes since the epoch>".
_JOB_NAME_MINUTES = re.compile(r"-(\d{7,10})$")
# Plausibility bounds for that suffix (2001-09-09 .. 2286), so an unrelated number is ignored.
_MIN_SCHEDULED_MINUTE = 16_666_667
_MAX_SCHEDULED_MINUTE = 5_000_000_000 // 60


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
    """The ``window_days`` local days ending ``offset_days`` (<= 0) from the reference's day.

    ``offset_days=0, window_days=1`` is the reference's own local day; ``offset_days=-1,
    window_days=7`` is the seven days ending yesterday.
    """
    if offset_days > 0:
        raise ValueError("offset_days must be <= 0")
    if window_days < 1:
        raise ValueError("window_days must be >= 1")
    end = reference.astimezone(zone).date() + timedelta(days=offset_days)
    return Window(start=end - timedelta(days=window_days - 1), end=end, zone=zone)


def scheduled_time_from_job_name(job_name: str | None) -> datetime | None:
    """The scheduled minute a CronJob encoded in its Job's name, or None."""
    if not job_name:
        return None
    match = _JOB_NAME_MINUTES.search(job_name)
    if match is None:
        return None
    minutes = int(match.group(1))
    if not _MIN_SCHEDULED_MINUTE <= minutes <= _MAX_SCHEDULED_MINUTE:
        return None
    return datetime.fromtimestamp(minutes * 60, tz=UTC)


def reference_time(explicit: datetime | None, job_name: str | None, now: datetime) -> datetime:
    """The instant a relative window is measured from: explicit, else the CronJob's scheduled
    minute (so a 23:59 run whose pod starts after midnight still archives its day), else now."""
    if explicit is not None:
        return explicit
    return scheduled_time_from_job_name(job_name) or now
