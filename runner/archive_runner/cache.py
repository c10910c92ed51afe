"""The run cache: what the last complete run of a window left for the next one. Pure.

Kept in the archive itself, as a dead WebDAV property of the archive collection, so a re-run
reads it with the archive's sync token in one PROPFIND (DESIGN.md 5: state between runs is a
cache, never the truth). It says: "at the source's sync token S, every source object of this
window was archived, and right after that the archive was at sync token A; these are the
copies of each source object". A re-run of the same window whose archive is still at A asks
the source what changed since S (RFC 6578 sync-collection) and reads and writes only that.
If the cache also holds the source's CTag C (read with S, or before it) and the source still
shows C, nothing changed there: the re-run skips the sync-collection (a server computes a
CTag cheaper than the changes since a token).

Why it can only cost speed, never correctness:
- lost or unreadable: the run takes the full path and records a new cache;
- stale: any change to the archive since A (a copy deleted or edited by anyone) changes its
  sync token, and any change to the source changes its CTag and is in the sync-collection
  answer; the server refuses a token it no longer knows (the full path then);
- forged: the cache carries an HMAC keyed by the run's credentials and the source, so whoever
  writes the property without them (another client of a shared archive) makes it unusable.
  Whoever has the credentials can change the archive directly anyway.
- another window, mode, policy, source or converter: the cache's scope differs: full path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .convert import CONVERTER_VERSION
from .window import Window

# The dead property's name (Clark notation) on the archive collection.
PROPERTY = "{https://archive.auriora.io/ns/runner}run-cache"
_FORMAT = "v1"


@dataclass(frozen=True)
class RunCache:
    scope: str  # what the cache is valid for (``scope_of``)
    source_token: str  # the source's sync token read before the source was
    archive_token: str  # the archive's sync token right after the run's writes
    # source href -> names of the archive copies it has in the window
    copies: dict[str, list[str]] = field(default_factory=dict)
    # Those of them that differ from the source and were kept (policy keep): a re-run counts
    # them as changed_kept, as the full path would.
    kept: list[str] = field(default_factory=list)
    # The source's CTag, read no later than ``source_token`` (or in the same PROPFIND): while the
    # source still shows it, nothing changed there since, and a re-run need not ask for changes.
    source_ctag: str | None = None


def scope_of(source_id: str, window: Window, mode: str, on_change: str) -> str:
    """Everything a cached result depends on besides the two sync tokens."""
    parts = (source_id, str(window.start), str(window.end), window.zone.key, mode, on_change)
    return hashlib.sha256("\x1f".join((CONVERTER_VERSION, *parts)).encode()).hexdigest()[:32]


def key_of(secret_values: Iterable[str], source_id: str) -> bytes:
    """The HMAC key: the run's credentials (never stored or shown) and the source."""
    digest = hashlib.sha256(b"archive-runner run cache\x00" + source_id.encode())
    for value in sorted(secret_values):
        digest.update(b"\x00" + value.encode())
    return digest.digest()


def encode(cache: RunCache, key: bytes) -> str:
    payload = json.dumps(
        {
            "scope": cache.scope,
            "source_token": cache.source_token,
            "archive_token": cache.archive_token,
            "copies": cache.copies,
            "kept": cache.kept,
            "source_ctag": cache.source_ctag,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    packed = base64.b64encode(zlib.compress(payload, 9)).decode()
    return f"{_FORMAT}.{packed}.{_mac(key, packed)}"


def decode(text: str | None, key: bytes) -> RunCache | None:
    """The cache, or None if there is none, it is from another format, or it fails its
    HMAC or its shape (anything else: it is only a cache)."""
    if not text:
        return None
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != _FORMAT:
        return None
    _, packed, mac = parts
    if not hmac.compare_digest(mac, _mac(key, packed)):
        return None
    try:
        raw = json.loads(zlib.decompress(base64.b64decode(packed, validate=True)))
        copies = {str(href): [str(n) for n in names] for href, names in raw["copies"].items()}
        kept = [str(name) for name in raw["kept"]]
        ctag = raw.get("source_ctag")
        return RunCache(
            scope=str(raw["scope"]),
            source_token=str(raw["source_token"]),
            archive_token=str(raw["archive_token"]),
            copies=copies,
            kept=kept,
            source_ctag=str(ctag) if ctag is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error):
        return None


def _mac(key: bytes, packed: str) -> str:
    return hmac.new(key, packed.encode(), hashlib.sha256).hexdigest()


def copies_by_source(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(source href, copy name) pairs -> the cache's map, each list sorted and unique."""
    found: dict[str, set[str]] = {}
    for href, name in pairs:
        found.setdefault(href, set()).add(name)
    return {href: sorted(names) for href, names in sorted(found.items())}
