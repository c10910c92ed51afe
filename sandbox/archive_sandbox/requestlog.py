"""Every API request, recorded: who did what to which resource, and the answer's code.

Tests read it in-process (`RequestLog.since(mark)`) or over HTTP (`GET /sandbox/requests`), e.g.
to assert that a resync made zero write requests.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    time: str
    user: str
    groups: tuple[str, ...]
    user_agent: str
    method: str
    path: str
    query: str
    # get list watch create update patch delete deletecollection (else the lower-case method)
    verb: str
    api_group: str
    api_version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    is_resource: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_write(self) -> bool:
        return self.is_resource and self.verb in WRITE_VERBS

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["groups"] = list(self.groups)
        out["is_write"] = self.is_write
        return out


class RequestLog:
    """Thread-safe (the fixture reads it from the test thread while the server loop appends)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._records: list[RequestRecord] = []
        self._seq = 0
        self._limit = limit
        self._lock = threading.Lock()

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            if len(self._records) > self._limit:
                del self._records[: len(self._records) - self._limit]

    def mark(self) -> int:
        """A position: `since(mark)` returns what was recorded after it."""
        with self._lock:
            return self._seq

    def since(self, mark: int = 0) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._records if r.seq > mark]

    def writes_since(self, mark: int = 0) -> list[RequestRecord]:
        return [r for r in self.since(mark) if r.is_write]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
