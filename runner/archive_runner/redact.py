"""What of a URL or a secret may be shown, and a last scrub of everything the runner emits.

Every URL the runner shows (logs, the result, ``errors[].href``, error messages) goes through
:func:`redact_url`: never the user info, query or fragment of any URL, and for a URL given as a
secret (``--source-url-file``, e.g. a private feed whose token is in its path or query) nothing
but ``scheme://host[:port]/…``.

:class:`Scrubber` is the second line: the logs and the result pass through it, so a secret
value that reached a text by a path nobody thought of (an exception of the HTTP client, a
traceback) is replaced before it leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

HIDDEN = "…"  # what stands for the hidden path and query of a secret URL
SCRUBBED = "[redacted]"
# Shorter values are not scrubbed from free text: they occur in ordinary words and paths, and a
# "[redacted]" in the middle of one ("/var/run/[redacted]s/…" for the password "secret") would
# show the reader what the secret is.
MIN_SCRUBBED = 8
MIN_TOKEN_SEGMENT = 16  # a secret URL's path segments this long are scrubbed on their own


def _host(url: str) -> str | None:
    """``scheme://host[:port]`` (host lower case, IPv6 in brackets); None if not a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 address
        return None
    if not parts.scheme or not parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: show none rather than fail
        port = None
    return f"{parts.scheme.lower()}://{host}{f':{port}' if port else ''}"


def redact_url(url: str, *, secret: bool = False) -> str:
    """The URL as it may be shown: without user info, query or fragment (they may carry
    secrets); for a ``secret`` URL only ``scheme://host[:port]/…``.

    A secret that is not a URL at all is shown as ``…``; a non-secret one (a file path) as is.
    """
    origin = _host(url)
    if origin is None:
        return HIDDEN if secret else url.partition("?")[0].partition("#")[0]
    if secret:
        return f"{origin}/{HIDDEN}"
    return f"{origin}{urlsplit(url).path}"


def secret_url_parts(url: str) -> list[str]:
    """The texts of a secret URL that must never be shown, as written and decoded: the URL, its
    path and query (together and apart), each query value, and each path segment long enough
    to be a token (shorter ones, such as ``calendar``, are words that messages use too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url, parts.path, parts.query, f"{parts.path}?{parts.query}", parts.fragment]
    found += [s for s in parts.path.split("/") if len(s) >= MIN_TOKEN_SEGMENT]
    for pair in parts.query.split("&"):
        found += [pair, pair.partition("=")[2]]
    found += [unquote(p) for p in list(found)] + [quote(unquote(p), safe="") for p in list(found)]
    return [p for p in found if p and p not in ("/", "?")]


class Scrubber:
    """Replaces every known secret value in texts (and in the strings of JSON-like values)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SCRUBBED}
        # Longest first, so a URL goes as a whole before its path does.
        self.secrets = sorted(unique, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, SCRUBBED)
        return value

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) scrubbed."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
