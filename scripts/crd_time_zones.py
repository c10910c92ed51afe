"""Write the IANA time-zone names into the ArchiveSchedule CRD's rule on spec.timeZone.

    .venv/bin/python scripts/crd_time_zones.py          rewrite the list in both CRD copies
    .venv/bin/python scripts/crd_time_zones.py --check  exit 1 if either copy is out of date

The names are the zones of the IANA tz database as the installed ``tzdata`` package ships
them (``archive_operator.schedule.iana_time_zones()``, which the operator and the plugin check
against too), without "Factory" and the like. The rule is ``self in [...]`` rather than an
``enum``: an enum's error message would print all ~600 names. Only the lines of the list are
rewritten, between the marker comment and the rule's ``message:``; nothing else in the files
changes. Run it again after upgrading tzdata (tests/crds/test_time_zones.py says when).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRD_NAME = "archive.auriora.io_archiveschedules.yaml"
COPIES = (ROOT / "crds" / CRD_NAME, ROOT / "charts" / "archive-operator" / "crds" / CRD_NAME)
MARKER = "scripts/crd_time_zones.py"
WIDTH = 100


def zone_names() -> list[str]:
    try:
        import tzdata  # noqa: F401  (the list must come from the package, not the host)
    except ImportError:
        sys.exit("error: the tzdata package is not installed; pip install tzdata")
    sys.path.insert(0, str(ROOT / "operator"))
    from archive_operator.schedule import iana_time_zones

    return sorted(iana_time_zones())


def rule_lines(names: list[str], indent: str) -> list[str]:
    """``self in ['A', 'B', ...]`` as the lines of a folded (``>-``) YAML block."""
    items = [f"'{name}'," for name in names]
    items[-1] = items[-1][:-1] + "]"
    lines, line = [], indent + "self in ["
    for item in items:
        if len(line) + 1 + len(item) > WIDTH and not line.endswith("["):
            lines.append(line)
            line = indent + item
        else:
            line += item if line.endswith("[") else " " + item
    return [*lines, line]


def rewrite(text: str, names: list[str]) -> str:
    lines = text.split("\n")
    marker = next((i for i, line in enumerate(lines) if MARKER in line), None)
    if marker is None or lines[marker + 1].strip() != "- rule: >-":
        raise SystemExit(f"error: no '# ... {MARKER}' line followed by '- rule: >-' found")
    first = marker + 2
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    last = first
    while not lines[last].lstrip().startswith("message:"):
        last += 1
    return "\n".join([*lines[:first], *rule_lines(names, indent), *lines[last:]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    check = parser.parse_args().check
    names = zone_names()
    stale = []
    for path in COPIES:
        text = path.read_text()
        updated = rewrite(text, names)
        if updated != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(updated)
    verb = "out of date" if check else "rewritten"
    for path in stale:
        print(f"{path}: {verb} ({len(names)} time zones)")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
