"""vdirsyncer as a user would set it up to archive: one-way CalDAV -> CalDAV for a window.

The source storage is read-only and limited to the window (``start_date``/``end_date``);
the archive storage is the whole archive collection; ``conflict_resolution = "a wins"``.
``discover`` runs once, untimed, when a pair is made; ``sync`` is what the bench times.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from server import PASSWORD, USERNAME


@dataclass(frozen=True)
class VdirPair:
    config: Path

    def sync(self) -> None:
        _vdirsyncer(self.config, "sync")


def _vdirsyncer(config: Path, *args: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "vdirsyncer"), "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vdirsyncer {' '.join(args)} failed: {done.stderr[-2000:]}")


def _expr(value: datetime) -> str:
    """vdirsyncer evaluates these as Python; naive datetimes are taken as UTC."""
    return f"datetime({value.year}, {value.month}, {value.day}, {value.hour})"


def make_pair(
    root: Path, source_url: str, archive_url: str, utc_start: datetime, utc_end: datetime
) -> VdirPair:
    """Write a config (status under ``root``), run ``discover``; ``utc_*`` naive UTC."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config"
    config.write_text(
        f"""[general]
status_path = "{root / "status"}/"

[pair bench]
a = "src"
b = "dst"
collections = null
conflict_resolution = "a wins"

[storage src]
type = "caldav"
url = "{source_url}"
username = "{USERNAME}"
password = "{PASSWORD}"
read_only = true
item_types = ["VEVENT"]
start_date = "{_expr(utc_start)}"
end_date = "{_expr(utc_end)}"

[storage dst]
type = "caldav"
url = "{archive_url}"
username = "{USERNAME}"
password = "{PASSWORD}"
""",
        "utf-8",
    )
    _vdirsyncer(config, "discover")
    return VdirPair(config)


def move_window(pair: VdirPair, utc_start: datetime, utc_end: datetime) -> None:
    """Point the source storage at another window (the pair's status is kept); untimed."""
    text = pair.config.read_text("utf-8")
    lines = []
    for line in text.splitlines():
        if line.startswith("start_date"):
            line = f'start_date = "{_expr(utc_start)}"'
        elif line.startswith("end_date"):
            line = f'end_date = "{_expr(utc_end)}"'
        lines.append(line)
    pair.config.write_text("\n".join(lines) + "\n", "utf-8")
    _vdirsyncer(pair.config, "discover")  # vdirsyncer insists after a config change
