"""Pure text output: kubectl-style tables, durations, colour, and json/yaml/name documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

Obj = dict[str, Any]
FORMATS = ("table", "wide", "json", "yaml", "name")

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "dim": "2", "bold": "1"}
# Cell values that get a colour in tables (phases, condition statuses, health words).
_TONE = {
    "Succeeded": "green",
    "True": "green",
    "healthy": "green",
    "Failed": "red",
    "False": "red",
    "unhealthy": "red",
    "PartiallySucceeded": "yellow",
    "Skipped": "yellow",
    "Blocked": "red",
    "Pending": "yellow",
    "Unknown": "yellow",
    "unknown": "yellow",
    "suspended": "yellow",
    "Running": "cyan",
}


def paint(text: str, colour: str | None, enabled: bool) -> str:
    if not enabled or not colour or not text:
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def tone(value: str) -> str | None:
    return _TONE.get(value.split(" ", 1)[0])


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    no_headers: bool = False,
    colour: bool = False,
) -> str:
    """Columns left-aligned, three spaces apart, headers upper-case: as ``kubectl get`` prints."""
    shown = [list(r) for r in rows]
    all_rows = shown if no_headers else [[h.upper() for h in headers], *shown]
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(all_rows):
        is_header = index == 0 and not no_headers
        cells = []
        for i, cell in enumerate(row):
            padded = cell if i == len(row) - 1 else cell.ljust(widths[i])
            cells.append(padded if is_header else paint_cell(cell, padded, colour))
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def paint_cell(value: str, padded: str, colour: bool) -> str:
    colour_name = tone(value)
    if not colour or not colour_name:
        return padded
    return paint(value, colour_name, True) + padded[len(value) :]


def human_duration(delta: timedelta) -> str:
    """kubectl's HumanDuration: 45s, 3m12s, 17m, 5h10m, 20h, 3d4h, 120d, 2y30d."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    years = days // 365
    return f"{years}y{days % 365}d" if years < 8 and days % 365 else f"{years}y"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: str | None, now: datetime) -> str:
    when = parse_time(value)
    return human_duration(now - when) if when else "<none>"


def relative(value: str | None, now: datetime) -> str:
    """``in 5h`` for the future, ``3m ago`` for the past."""
    when = parse_time(value)
    if when is None:
        return "<none>"
    if when >= now:
        return f"in {human_duration(when - now)}"
    return f"{human_duration(now - when)} ago"


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def to_json(document: Obj) -> str:
    return json.dumps(document, indent=4, ensure_ascii=False) + "\n"


def to_yaml(document: Obj) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True))


def object_name(obj: Obj, qualified: str) -> str:
    """``archiveschedule.archive.auriora.io/alice`` as ``kubectl get -o name`` prints it."""
    kind = str(obj.get("kind") or qualified.split(".", 1)[0]).lower()
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    prefix = f"{kind}.{group}" if group else kind
    return f"{prefix}/{obj['metadata']['name']}"


def documents(objects: list[Obj], fmt: str, qualified: str, *, single: bool) -> str:
    """json / yaml / name output of objects (a List unless one object was asked for)."""
    if fmt == "name":
        return "".join(object_name(o, qualified) + "\n" for o in objects)
    document = objects[0] if single and len(objects) == 1 else as_list(objects)
    return to_json(document) if fmt == "json" else to_yaml(document)
