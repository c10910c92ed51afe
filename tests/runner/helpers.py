"""Helpers for the runner tests: sample calendars, running the CLI, reading an archive."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive_runner.cli import main
from click.testing import CliRunner

DATA = Path(__file__).parent / "data"
SAMPLES = (
    "plain-utc.ics",
    "all-day.ics",
    "floating.ics",
    "new-york.ics",
    "weekly-london.ics",
    "daily-open-ended.ics",
)


def sample(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def event(uid: str, start: str, end: str, summary: str = "Event", extra: str = "") -> str:
    """One calendar object with one VEVENT; start/end are iCalendar DATE-TIME values."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//archive-operator tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20240101T000000Z",
        f"DTSTART:{start}",
        f"DTEND:{end}",
        f"SUMMARY:{summary}",
        *([extra] if extra else []),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines)


def feed(texts: Iterable[str], extra_events: Iterable[str] = ()) -> str:
    """Merge calendar objects into one VCALENDAR (like a published feed), time zones once."""
    zones: dict[str, str] = {}
    events: list[str] = []
    for text in texts:
        for block in re.findall(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE", text, re.S):
            zones.setdefault(re.search(r"TZID:(.*)", block).group(1).strip(), block)  # type: ignore[union-attr]
        events += re.findall(r"BEGIN:VEVENT.*?END:VEVENT", text, re.S)
    body = [*zones.values(), *events, *extra_events]
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//EN\nMETHOD:PUBLISH\n"
        + "\n".join(body)
        + "\nEND:VCALENDAR\n"
    )


@dataclass
class Outcome:
    exit_code: int
    result: dict[str, Any]
    stderr: str

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.result["counts"]
        return counts


def run_cli(args: list[str], env: Mapping[str, str] | None = None) -> Outcome:
    """Run ``archive-runner run`` in-process; the result is the JSON printed on stdout."""
    full_env = {"ARCHIVE_TERMINATION_LOG": "/nonexistent-dir/termination-log", **(env or {})}
    outcome = CliRunner().invoke(main, ["run", *args], env=full_env, catch_exceptions=False)
    stdout = outcome.stdout.strip()
    return Outcome(
        exit_code=outcome.exit_code,
        result=json.loads(stdout) if stdout.startswith("{") else {},
        stderr=outcome.stderr,
    )


def copies(items: Mapping[str, str]) -> dict[str, str]:
    """Archived objects by their UID (unfolded text)."""
    by_uid = {}
    for text in items.values():
        unfolded = re.sub(r"\r?\n[ \t]", "", text)
        uid = re.search(r"^UID:(.*)$", unfolded, re.M)
        assert uid is not None, text
        by_uid[uid.group(1).strip()] = unfolded
    assert len(by_uid) == len(items), "two archived objects share a UID"
    return by_uid


def directory_items(path: Path) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in sorted(path.glob("*.ics"))}


def drop_run_cache(collection_path: Path) -> None:
    """Remove the run cache (a dead property of the archive collection, which Radicale keeps
    in the collection's .Radicale.props): the next run takes the full path, as after a lost
    cache."""
    props = collection_path / ".Radicale.props"
    kept = {k: v for k, v in json.loads(props.read_text("utf-8")).items() if "run-cache" not in k}
    props.write_text(json.dumps(kept), "utf-8")
