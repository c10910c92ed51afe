"""The bad input corpus: every malformed ArchiveSchedule, ArchiveRun and plugin invocation, with
the layer that must reject it and what it must say.

- ``api``: rejected by the API server (OpenAPI schema, CEL rules, strict field validation,
  object names) through the real kubectl: tests/crds/bad/ (reused, 31 cases) and api/ here.
- ``plugin``: rejected by ``kubectl archive`` itself before any request (PLUGIN_CASES).
- ``operator``: accepted by the API, refused by the operator with a condition or run phase and
  a Warning Event, because only it can know (cron ranges, a cron spelled so the CRD's rule cannot
  see that it never fires, today, whether the referenced schedule exists): operator/ here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CRD_BAD_DIR = HERE.parent / "crds" / "bad"


@dataclass(frozen=True)
class FileCase:
    name: str
    path: Path
    header: dict[str, str]
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])


def file_cases(directory: Path) -> list[FileCase]:
    """YAML files whose leading `# key: value` lines say what must happen."""
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        header = dict(
            line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# ")
        )
        cases.append(FileCase(path.stem, path, header, yaml.safe_load(text)))
    return cases


def api_cases() -> list[FileCase]:
    """The new API-layer cases (tests/crds/bad/ is run by tests/crds and only counted here)."""
    return file_cases(HERE / "api")


def crd_cases() -> list[FileCase]:
    return file_cases(CRD_BAD_DIR)


def operator_cases() -> list[FileCase]:
    return file_cases(HERE / "operator")


@dataclass(frozen=True)
class PluginCase:
    name: str
    args: tuple[str, ...]
    message: str  # a fragment of the one-line error


_SOURCES = ("--source", "https://cal.example.com/a/", "--destination", "https://cal.example.com/b/")

PLUGIN_CASES = [
    PluginCase(
        "end-before-start",
        ("trigger", "alice", "--start", "2024-12-18", "--end", "2024-12-01"),
        "error: --end 2024-12-01 is before --start 2024-12-18",
    ),
    PluginCase(
        "backfill-end-before-start",
        ("backfill", "alice", "--start", "2020-01-01", "--end", "2019-01-01"),
        "error: --end 2019-01-01 is before --start 2020-01-01",
    ),
    PluginCase(
        "month-13",
        ("trigger", "alice", "--start", "2024-13-01", "--end", "2024-13-01"),
        'error: --start "2024-13-01": not a date YYYY-MM-DD',
    ),
    PluginCase(
        "february-30",
        ("trigger", "alice", "--start", "2024-02-30", "--end", "2024-02-30"),
        'error: --start "2024-02-30": not a date YYYY-MM-DD',
    ),
    PluginCase(
        "date-injection",
        ("trigger", "alice", "--start", "2024-01-01; rm -rf /"),
        'error: --start "2024-01-01; rm -rf /": not a date YYYY-MM-DD',
    ),
    PluginCase(
        "huge-range",
        ("trigger", "alice", "--start", "2000-01-01", "--end", "2024-12-31"),
        "covers 9132 days, more than a run may (366); use kubectl archive backfill",
    ),
    PluginCase(
        "days-per-run-zero",
        (
            "backfill",
            "alice",
            "--start",
            "2024-01-01",
            "--end",
            "2024-02-01",
            "--days-per-run",
            "0",
        ),
        'error: --days-per-run "0": must be 1 to 366',
    ),
    PluginCase(
        "at-24",
        ("schedule", "alice", "--daily", "--at", "24:00"),
        'error: --at "24:00": not a 24-hour time HH:MM between 00:00 and 23:59',
    ),
    PluginCase(
        "at-7pm",
        ("schedule", "alice", "--daily", "--at", "7pm"),
        'error: --at "7pm": not a 24-hour time HH:MM',
    ),
    PluginCase(
        "weekday-unknown",
        ("schedule", "alice", "--weekly", "funday", "--at", "10:00"),
        'error: --weekly "funday": funday is not a day; e.g. mon,fri',
    ),
    PluginCase(
        "cron-four-fields",
        ("schedule", "alice", "--cron", "0 0 * *"),
        'error: --cron "0 0 * *": needs five fields',
    ),
    PluginCase(
        "cron-minute-61",
        ("schedule", "alice", "--cron", "61 * * * *"),
        'error: --cron "61 * * * *": end of range (61) above maximum (59)',
    ),
    PluginCase(
        "cron-with-tz",
        ("schedule", "alice", "--cron", "CRON_TZ=UTC 0 0 * * *"),
        "TZ= and CRON_TZ= are not allowed; set --time-zone instead",
    ),
    PluginCase(
        "entry-not-dns",
        ("schedule", "alice", "--entry", "Nightly!", "--daily", "--at", "01:00"),
        'error: --entry "Nightly!": not a lowercase DNS label',
    ),
    PluginCase(
        "jitter-too-large",
        ("schedule", "alice", "--daily", "--at", "01:00", "--jitter", "99"),
        "Invalid value for '--jitter': 99 is not in the range 0<=x<=59",
    ),
    PluginCase(
        "source-ftp",
        ("create", "bob", "--user", "bob", "--source", "ftp://x/y", "--destination", "https://a/b"),
        'error: --source "ftp://x/y": not an http(s) URL without credentials',
    ),
    PluginCase(
        "source-with-credentials",
        (
            "create",
            "bob",
            "--user",
            "bob",
            "--source",
            "https://u:p@a/b",
            "--destination",
            "https://a/c",
        ),
        "not an http(s) URL without credentials",
    ),
    PluginCase(
        "unknown-time-zone",
        ("create", "bob", "--user", "bob", *_SOURCES, "--time-zone", "Mars/Olympus_Mons"),
        'error: --time-zone "Mars/Olympus_Mons": not an IANA time zone',
    ),
    PluginCase(
        "bad-object-name",
        ("create", "Bad_Name", "--user", "bob", *_SOURCES),
        'error: NAME "Bad_Name": not a valid Kubernetes object name',
    ),
    PluginCase(
        "user-injection",
        ("create", "bob", "--user", "bob; rm -rf /", *_SOURCES),
        'error: --user "bob; rm -rf /": a user starts with a letter or digit',
    ),
    PluginCase(
        "user-oversized",
        ("create", "bob", "--user", "u" * 200, *_SOURCES),
        "a user has at most 128 characters, not 200; shorten it",
    ),
]


def all_cases_by_layer() -> dict[str, int]:
    return {
        "api": len(crd_cases()) + len(api_cases()),
        "plugin": len(PLUGIN_CASES),
        "operator": len(operator_cases()),
    }
