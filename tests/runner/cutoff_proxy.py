"""A proxy that forwards the first N requests, then behaves like a server that went away: it
drops every further connection without answering. Makes "server down mid-run" deterministic
(no timing, no killing processes). A special case of trouble_proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .trouble_proxy import DROP, FORWARD, Action, trouble_proxy


@contextmanager
def cutoff_proxy(upstream_port: int, allow: int) -> Iterator[str]:
    """Yield the proxy's base URL (http://127.0.0.1:<port>)."""

    def rule(method: str, path: str, index: int) -> Action:
        return FORWARD if index < allow else DROP

    with trouble_proxy(upstream_port, rule) as proxy:
        yield proxy.url
