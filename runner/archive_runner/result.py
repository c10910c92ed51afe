"""The run's result: one JSON object on stdout, and a compact copy (<= 4 KiB) for the
Kubernetes termination message so the operator can read counts from the Pod's status."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .redact import Scrubber
from .window import Window

Status = Literal["succeeded", "partial", "failed"]

MAX_ERRORS = 50  # in the stdout result
MAX_MESSAGE = 300  # characters per error message
TERMINATION_LIMIT = 4096  # bytes; Kubernetes truncates the termination message beyond this
_TERMINATION_ERRORS = 5
_TERMINATION_STRING = 200


@dataclass
class Counts:
    source_objects: int = 0  # calendar objects read from the source (resources, or feed UIDs)
    occurrences: int = 0  # archive items derived from them within the window
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_kept: int = 0
    source_missing: int = 0
    failed: int = 0


@dataclass(frozen=True)
class ObjectError:
    """One object that could not be read, converted or written."""

    message: str
    uid: str | None = None
    href: str | None = None
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "href": self.href,
            "http_status": self.http_status,
            "message": self.message[:MAX_MESSAGE],
        }


@dataclass
class RunResult:
    run_id: str
    user: str
    window: Window | None
    mode: str
    on_change: str
    dry_run: bool
    source: str
    destination: str
    counts: Counts = field(default_factory=Counts)
    errors: list[ObjectError] = field(default_factory=list)
    source_missing: list[str] = field(default_factory=list)  # UIDs / keys, for the report
    http_requests: int = 0
    duration_seconds: float = 0.0
    status: Status = "succeeded"
    exit_code: int = 0
    message: str | None = None  # why a run failed as a whole
    # How the run used the run cache (CalDAV to CalDAV only): {"read": ..., "written": ...}
    run_cache: dict[str, str] | None = None

    def window_dict(self) -> dict[str, str] | None:
        if self.window is None:
            return None
        return {
            "start": self.window.start.isoformat(),
            "end": self.window.end.isoformat(),
            "time_zone": self.window.zone.key,
            "utc_start": self.window.utc_start.isoformat().replace("+00:00", "Z"),
            "utc_end": self.window.utc_end.isoformat().replace("+00:00", "Z"),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "user": self.user,
            "status": self.status,
            "exit_code": self.exit_code,
            "message": self.message,
            "window": self.window_dict(),
            "mode": self.mode,
            "on_change": self.on_change,
            "dry_run": self.dry_run,
            "source": self.source,
            "destination": self.destination,
            "counts": asdict(self.counts),
            "errors": [e.as_dict() for e in self.errors[:MAX_ERRORS]],
            "errors_total": len(self.errors),
            "source_missing": self.source_missing[:MAX_ERRORS],
            "http_requests": self.http_requests,
            "duration_seconds": round(self.duration_seconds, 3),
            "run_cache": self.run_cache,
        }

    def to_json(self, scrubber: Scrubber | None = None) -> str:
        """The result; ``scrubber``: the run's secrets replaced in every string."""
        full = (scrubber or Scrubber()).value(self.as_dict())
        return json.dumps(full, ensure_ascii=False, separators=(",", ":"))

    def termination_message(self, scrubber: Scrubber | None = None) -> str:
        """At most 4 KiB of JSON: status, counts, window and run id always; errors dropped
        first, then long strings truncated. ``scrubber`` as for :meth:`to_json`."""
        full = (scrubber or Scrubber()).value(self.as_dict())
        compact: dict[str, Any] = {
            key: full[key]
            for key in (
                "run_id",
                "user",
                "status",
                "exit_code",
                "message",
                "window",
                "mode",
                "dry_run",
                "counts",
                "errors_total",
                "http_requests",
                "duration_seconds",
            )
        }
        compact["errors"] = [
            {**e, "message": (e["message"] or "")[:_TERMINATION_STRING]}
            for e in full["errors"][:_TERMINATION_ERRORS]
        ]
        text = _dump(compact)
        if len(text.encode()) > TERMINATION_LIMIT:
            compact.pop("errors")
            text = _dump(compact)
        if len(text.encode()) > TERMINATION_LIMIT:
            for key in ("run_id", "user", "message"):
                if isinstance(compact.get(key), str):
                    compact[key] = compact[key][:_TERMINATION_STRING]
            text = _dump(compact)
        return text


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
