"""Property (issue 14, item 1): under random edit sequences, with ``--on-change update``, in
both recurrence modes and with windows of 1, 2 and 7 days run every day,

- what the archive shows only grows: its set of (original UID, recurrence id, start) on the
  days archived so far never loses a member, and no occurrence is shown twice;
- each occurrence shows the source's last state while it was inside a run's window.

The expected states are computed from the source text alone (tests/runner/archive_view.py),
never from the runner's own output. Seeds are fixed, so a failure replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from archive_runner import cli

from .archive_view import Key, directory_texts, occurrences
from .helpers import run_cli

FIRST_DAY = date(2024, 3, 4)
DAYS = 16
SERIES_START = date(2024, 2, 26)


def stamp(day: date, hour: int) -> str:
    return f"{day:%Y%m%d}T{hour:02d}0000Z"


@dataclass
class Source:
    """A calendar a random organiser edits: single events and one daily series."""

    singles: dict[str, tuple[date, int, str]] = field(default_factory=dict)
    series_hour: int = 9
    series_summary: str = "Standup"
    series_days: int = 40
    exdates: set[date] = field(default_factory=set)
    overrides: dict[date, tuple[date, int, str]] = field(default_factory=dict)  # slot -> move

    def text(self) -> str:
        events = [
            self._event(uid, day, hour, summary)
            for uid, (day, hour, summary) in self.singles.items()
        ]
        rules = [f"RRULE:FREQ=DAILY;COUNT={self.series_days}"]
        rules += [f"EXDATE:{stamp(d, self.series_hour)}" for d in sorted(self.exdates)]
        events.append(
            self._event("daily@x", SERIES_START, self.series_hour, self.series_summary, rules)
        )
        for slot, (day, hour, summary) in sorted(self.overrides.items()):
            rid = f"RECURRENCE-ID:{stamp(slot, self.series_hour)}"
            events.append(self._event("daily@x", day, hour, summary, [rid]))
        body = "\r\n".join(events)
        return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}\r\nEND:VCALENDAR\r\n"

    @staticmethod
    def _event(uid: str, day: date, hour: int, summary: str, extra: list[str] = ()) -> str:
        lines = [
            "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z",
            f"DTSTART:{stamp(day, hour)}", f"DTEND:{stamp(day, hour + 1)}",
            f"SUMMARY:{summary}", *extra, "END:VEVENT",
        ]  # fmt: skip
        return "\r\n".join(lines)


EDITS = ("add", "move", "rename", "delete", "series-rename", "series-hour", "exdate", "un-exdate",
         "override", "un-override")  # fmt: skip


def edit(source: Source, rng: random.Random, today: date, n: int) -> None:
    """One random edit, anywhere from two weeks back to a week ahead."""
    day = today + timedelta(days=rng.randint(-14, 7))
    hour = rng.randint(7, 18)
    kind = rng.choice(EDITS)
    singles = sorted(source.singles)
    if kind == "add" or (kind in ("move", "rename", "delete") and not singles):
        source.singles[f"e{n}@x"] = (day, hour, f"Event {n}")
    elif kind == "move":
        uid = rng.choice(singles)
        source.singles[uid] = (day, hour, source.singles[uid][2])
    elif kind == "rename":
        uid = rng.choice(singles)
        old_day, old_hour, _ = source.singles[uid]
        source.singles[uid] = (old_day, old_hour, f"Renamed {n}")
    elif kind == "delete":
        del source.singles[rng.choice(singles)]
    elif kind == "series-rename":
        source.series_summary = f"Standup v{n}"
    elif kind == "series-hour":
        source.series_hour = hour
        source.exdates.clear()  # they name slots at the old hour
        source.overrides.clear()
    elif kind == "exdate":
        source.exdates.add(day)
    elif kind == "un-exdate" and source.exdates:
        source.exdates.discard(rng.choice(sorted(source.exdates)))
    elif kind == "override":
        source.overrides[day] = (day + timedelta(days=rng.choice([0, 1])), hour, f"Moved {n}")
    elif kind == "un-override" and source.overrides:
        del source.overrides[rng.choice(sorted(source.overrides))]


def utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


ARGS = ["--user", "alice", "--time-zone", "UTC", "--on-change", "update",
        "--destination-type", "directory", "--source-type", "ics", "--source-url"]  # fmt: skip
CASES = [
    (seed, mode, days)
    for seed in range(6)
    for mode in ("occurrences", "series")
    for days in (1, 2, 7)
]


@pytest.mark.parametrize(("seed", "mode", "window_days"), CASES)
def test_the_archive_only_grows_and_keeps_each_days_last_state(
    seed: int, mode: str, window_days: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed * 1000 + window_days)
    source, feed, archive = Source(), tmp_path / "feed.ics", tmp_path / "archive"
    archive.mkdir()
    for n in range(4):
        edit(source, rng, FIRST_DAY, n)
    expected: dict[Key, str] = {}
    shown_before: set[Key] = set()
    beginning = utc(SERIES_START - timedelta(days=30))
    for offset in range(DAYS):
        today = FIRST_DAY + timedelta(days=offset)
        for n in range(rng.choice([0, 1, 1, 2, 3])):
            edit(source, rng, today, 100 * offset + n)
        feed.write_text(source.text())
        first = today - timedelta(days=window_days - 1)
        now = utc(today) + timedelta(hours=23)
        monkeypatch.setattr(cli, "clock", lambda now=now: now)
        outcome = run_cli([*ARGS, str(feed), "--destination-path", str(archive),
                           "--start", first.isoformat(), "--end", today.isoformat(),
                           "--recurrence", mode])  # fmt: skip
        assert outcome.exit_code == 0, (outcome.stderr, outcome.result)
        # The model: every occurrence of the source in this window, in its state now.
        in_window = occurrences([source.text()], utc(first), utc(today + timedelta(days=1)))
        expected.update(in_window)
        archived_days = (beginning, utc(today + timedelta(days=1)))
        shown = occurrences(directory_texts(archive), *archived_days)
        context = f"seed {seed}, {mode}, {window_days}-day window, run of {today}"
        assert shown_before <= set(shown), (context, shown_before - set(shown))
        assert {k: shown.get(k) for k in expected} == expected, context
        shown_before = set(shown)
