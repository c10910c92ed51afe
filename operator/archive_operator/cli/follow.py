"""``--wait``: follow runs to the end with one watch, showing progress; the exit code says how.

A run the operator reports Blocked (its pod cannot start: a missing Secret, an image that cannot
be pulled, no node) ends the wait at once with its reason and EXIT_RUN_BLOCKED: it would
otherwise sit there until its Job's deadline, and the fix is the user's.

The watch runs in a thread that feeds a queue; the main thread redraws the display (a
spinner line on a terminal, one line per change elsewhere) and enforces the deadline.
Rendering is pure (``*_line`` functions); the loop takes its clock as a parameter.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from .errors import (
    EXIT_OK,
    EXIT_RUN_BLOCKED,
    EXIT_RUN_FAILED,
    EXIT_RUN_PARTIAL,
    EXIT_RUN_SKIPPED,
    EXIT_WAIT_TIMEOUT,
    ApiError,
    CliError,
)
from .output import human_duration, paint, parse_time, tone
from .views import counts_summary

Obj = dict[str, Any]
TERMINAL = {
    "Succeeded": EXIT_OK,
    "Skipped": EXIT_RUN_SKIPPED,
    "PartiallySucceeded": EXIT_RUN_PARTIAL,
    "Failed": EXIT_RUN_FAILED,
}
SEVERITY = ("Succeeded", "Skipped", "PartiallySucceeded", "Failed")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
MARKS = {"Succeeded": "✓", "PartiallySucceeded": "!", "Failed": "✗", "Skipped": "-"}
BLOCKED = "Blocked"


def phase(run: Obj) -> str:
    return str((run.get("status") or {}).get("phase") or "Pending")


def exit_code(runs: list[Obj]) -> int:
    """The code of the worst outcome: Failed > PartiallySucceeded > Skipped > Succeeded."""
    worst = max((SEVERITY.index(phase(r)) for r in runs if phase(r) in TERMINAL), default=0)
    return TERMINAL[SEVERITY[worst]]


def _elapsed(run: Obj, now: datetime) -> str:
    status = run.get("status") or {}
    started = parse_time(status.get("startTime"))
    if started is None:
        return ""
    return human_duration((parse_time(status.get("completionTime")) or now) - started)


def change_line(run: Obj, now: datetime, colour: bool = False) -> str:
    """One line for a run's new phase (also the permanent line of a finished run)."""
    status, current = run.get("status") or {}, phase(run)
    text = f"{run['metadata']['name']}: {paint(current, tone(current), colour)}"
    if current == BLOCKED:
        text = f"✗ {text}"
    if current in TERMINAL:
        text = f"{MARKS[current]} {text}"
        took = _elapsed(run, now)
        text += f" in {took}" if took else ""
        if status.get("counts"):
            text += f" ({counts_summary(status['counts'])})"
    if status.get("reason") and current != "Succeeded":
        text += f" [{status['reason']}]"
    if status.get("message") and current not in ("Succeeded", "Running"):
        text += f": {status['message']}"
    return text


def spinner_line(runs: list[Obj], now: datetime, started: datetime, frame: int) -> str:
    """The redrawn line on a terminal: a spinner, per-phase counts and the time so far."""
    pending = [r for r in runs if phase(r) not in TERMINAL]
    if len(runs) == 1:
        run = runs[0]
        body = f"{run['metadata']['name']}: {phase(run)}"
        reason = (run.get("status") or {}).get("reason")
        body += f" [{reason}]" if reason and phase(run) == "Pending" else ""
    else:
        tally: dict[str, int] = {}
        for run in runs:
            tally[phase(run)] = tally.get(phase(run), 0) + 1
        body = f"{len(runs) - len(pending)}/{len(runs)} runs done: " + ", ".join(
            f"{n} {p}" for p, n in sorted(tally.items())
        )
    return f"{SPINNER[frame % len(SPINNER)]} {body}  {human_duration(now - started)}"


HELD = "ScheduleNotReady"  # a Pending run's reason while its schedule is Ready=False


def stuck(run: Obj) -> bool:
    """Blocked (its pod cannot start), or held because its schedule is not Ready: either way
    the fix is the user's, and waiting would only reach the timeout."""
    status = run.get("status") or {}
    return phase(run) == BLOCKED or (phase(run) == "Pending" and status.get("reason") == HELD)


def blocked_message(names: list[str], state: dict[str, Obj]) -> str:
    """The error line for stuck runs: which, and why (the first one's reason)."""
    first = names[0]
    status = state[first].get("status") or {}
    reason = status.get("reason") or "unknown reason"
    job = status.get("jobName") or first
    which = f"run {first}" + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
    if phase(state[first]) == "Pending":
        return (
            f"{which} cannot start: {status.get('message') or reason}; stopped waiting. See "
            "kubectl archive status for the schedule's Ready condition"
        )
    return (
        f"{which} is Blocked: its pod cannot start ({reason}); stopped waiting. The run starts "
        "by itself once the cause is fixed, or fails at its Job's deadline; see kubectl "
        f"describe pod -l batch.kubernetes.io/job-name={job}"
    )


@dataclass
class Watcher:
    """Feeds ``(obj or exception)`` items from a watch (re-listing after 410 Gone)."""

    client: Any
    resource: Any
    namespace: str
    selector: str | None
    resource_version: str
    items: queue.Queue[Obj | BaseException] = field(default_factory=queue.Queue)
    stopped: threading.Event = field(default_factory=threading.Event)

    def _error(self, status: Obj) -> ApiError:
        code = int(status.get("code") or 500)
        return ApiError(code, status, verb="watch", resource="archiveruns",
                        namespace=self.namespace, name=None)  # fmt: skip

    def run(self) -> None:
        rv = self.resource_version
        try:
            while not self.stopped.is_set():
                events = 0
                try:
                    for event in self.client.watch(
                        self.resource, self.namespace, rv, self.selector
                    ):
                        events += 1
                        obj = event.get("object") or {}
                        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            self.items.put({**obj, "_event": event["type"]})
                        elif event.get("type") == "ERROR":
                            raise self._error(obj)
                except ApiError as exc:
                    if exc.code != 410:
                        raise
                    listing = self.client.list(self.resource, self.namespace, self.selector)
                    for item in listing.get("items") or []:
                        self.items.put(item)
                    rv = listing["metadata"]["resourceVersion"]
                if not events:
                    self.stopped.wait(1.0)  # the server ended an empty watch: do not spin
        except BaseException as exc:  # handed to the main thread, which reports it
            self.items.put(exc)


def parse_timeout(text: str) -> timedelta | None:
    """``90s``, ``30m``, ``2h``, ``1h30m``; ``0`` waits without limit."""
    import re

    if text.strip() == "0":
        return None
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not text.strip() or not match:
        from .errors import BadInput

        raise BadInput(f'--timeout "{text}": not a duration; e.g. 90s, 30m, 2h or 0 for no limit')
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def follow(
    client: Any,
    resource: Any,
    namespace: str,
    runs: list[Obj],
    *,
    selector: str | None,
    timeout: timedelta | None,
    clock: Callable[[], datetime],
    out: TextIO,
    live: bool,
    colour: bool,
    poll: float | None = None,
) -> int:
    """Follow ``runs`` (as created) until all finish; print progress; return the exit code.

    ``poll`` is how long (real seconds) to wait for an event before redrawing and checking
    the deadline on ``clock``.
    """
    state = {r["metadata"]["name"]: r for r in runs}
    rv = max((r["metadata"].get("resourceVersion") or "0" for r in runs), key=_rv_key)
    watcher = Watcher(client, resource, namespace, selector, rv)
    thread = threading.Thread(target=watcher.run, name="archive-watch", daemon=True)
    thread.start()
    started = clock()
    deadline = started + timeout if timeout else None
    frame, last_phase = 0, {name: "" for name in state}
    try:
        while True:
            now = clock()
            for name, run in state.items():
                if phase(run) != last_phase[name]:
                    last_phase[name] = phase(run)
                    if live:
                        out.write("\r\x1b[K")
                    if not live or phase(run) in TERMINAL or phase(run) == BLOCKED:
                        out.write(change_line(run, now, colour) + "\n")
            if all(phase(r) in TERMINAL for r in state.values()):
                out.flush()
                return exit_code(list(state.values()))
            blocked = [n for n, r in state.items() if stuck(r)]
            if blocked:
                out.flush()
                raise CliError(blocked_message(blocked, state), EXIT_RUN_BLOCKED)
            if deadline is not None and now >= deadline:
                if live:
                    out.write("\r\x1b[K")
                waiting = ", ".join(
                    f"{n} ({phase(r)})" for n, r in state.items() if phase(r) not in TERMINAL
                )
                raise CliError(
                    f"gave up waiting after {human_duration(now - started)}: {waiting} still going;"
                    " the runs continue (see kubectl archive history)",
                    EXIT_WAIT_TIMEOUT,
                )
            if live:
                out.write("\r\x1b[K" + spinner_line(list(state.values()), now, started, frame))
                out.flush()
                frame += 1
            wait = poll if poll is not None else 0.2 if live else 1.0
            if deadline is not None:
                wait = max(0.0, min(wait, (deadline - now).total_seconds()))
            try:
                item = watcher.items.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            name = item["metadata"]["name"]
            if name in state:
                if item.pop("_event", None) == "DELETED":
                    raise CliError(f"run {name} was deleted while waiting for it")
                state[name] = item
    finally:
        watcher.stopped.set()


def _rv_key(rv: str) -> tuple[int, str]:
    return (int(rv), rv) if rv.isdigit() else (0, rv)
