"""Print the Debian mirror that this machine's apt uses for a suite (default: bookworm).

debootstrap must fetch from the same place apt does: on machines without general internet
access that is the only Debian mirror reachable. Reads /etc/apt/sources.list (one-line format)
and /etc/apt/sources.list.d/*.list and *.sources (deb822 format).

    python3 scripts/images/apt_mirror.py [SUITE]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_DIR = Path("/etc/apt")


def one_line_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(uri, suites) of each `deb [options] URI SUITE COMPONENT...` line."""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], (words[1],)


def deb822_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(uri, suites) of each deb822 paragraph of type `deb`, one pair per URI."""
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        suites = tuple(fields.get("suites", "").split())
        for uri in fields.get("uris", "").split():
            yield uri, suites


def mirror_for(suite: str, entries: Iterable[tuple[str, tuple[str, ...]]]) -> str:
    """The first source serving exactly `suite` (not -updates or -security), else the default."""
    for uri, suites in entries:
        if suite in suites:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def read_entries(apt_dir: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        yield from one_line_entries(main_list.read_text(encoding="utf-8"))
    parts = apt_dir / "sources.list.d"
    for path in sorted(parts.glob("*.list")) if parts.is_dir() else []:
        yield from one_line_entries(path.read_text(encoding="utf-8"))
    for path in sorted(parts.glob("*.sources")) if parts.is_dir() else []:
        yield from deb822_entries(path.read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    suite = argv[1] if len(argv) > 1 else "bookworm"
    print(mirror_for(suite, read_entries(APT_DIR)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
