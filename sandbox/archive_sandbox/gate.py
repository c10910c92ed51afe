"""A gate that holds one API request at an exact point, so a test can kill its client there.

    sandbox.gate.arm(GatePoint(user="fault-operator", resources={"jobs"}, k=2, where="applied"))
    sandbox.gate.wait_held(timeout=30)   # the 2nd Job write of that user is held
    operator.kill()                      # SIGKILL while it waits for that answer
    sandbox.gate.release("drop")         # the connection is cut; "pass" would answer it

Where the k-th matching write (create, update, patch, delete) of ``user`` is held:

- ``before``: before it is carried out: sent, never answered, never applied (with "drop").
- ``applied``: carried out, its answer held: applied, never answered.
- ``after``: carried out and answered; the user's *next* request (not a watch) is held before it
  is carried out: the client has its answer but has recorded nothing since.

Killing the client at these points is exact, unlike killing it some milliseconds after a write
was seen. One point at a time; the gate disarms once released. Thread-safe: armed, waited on
and released from the test's thread, used on the server's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from .requestlog import WRITE_VERBS
from .routing import RequestInfo

Where = Literal["before", "applied", "after"]
Action = Literal["drop", "pass"]
Dispatch = Callable[[], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class GatePoint:
    user: str
    resources: frozenset[str]  # plural names; empty = any
    k: int  # the k-th matching write since arming, 1-based
    where: Where

    def counts(self, info: RequestInfo, user: str) -> bool:
        return (
            user == self.user
            and info.is_resource
            and info.verb in WRITE_VERBS
            and (not self.resources or info.resource in self.resources)
        )


class RequestGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._point: GatePoint | None = None
        self._seen = 0
        self._hold_next = False  # "after": the k-th write was answered; hold the next request
        self._held = threading.Event()
        self._released = threading.Event()
        self._action: Action = "drop"
        self.held_request = ""  # "VERB resource/name" of the held request, for reports

    def arm(self, point: GatePoint) -> None:
        if point.k < 1:
            raise ValueError(f"gate k={point.k}: must be 1 or more")
        with self._lock:
            self._point, self._seen, self._hold_next = point, 0, False
            self._held.clear()
            self._released.clear()
            self.held_request = ""

    def wait_held(self, timeout: float) -> bool:
        return self._held.wait(timeout)

    def release(self, action: Action) -> None:
        """Let the held request go on ("pass") or cut its connection ("drop"); disarm."""
        with self._lock:
            self._action = action
            self._point = None
        self._released.set()

    def disarm(self) -> None:
        self.release("pass")

    def _decide(self, info: RequestInfo, user: str) -> Where | None:
        """Whether this request is held, and where (None: not held)."""
        with self._lock:
            point = self._point
            if point is None or self._held.is_set() or user != point.user:
                return None
            if self._hold_next and info.verb != "watch":
                return "before"
            if not point.counts(info, user):
                return None
            self._seen += 1
            if self._seen != point.k:
                return None
            if point.where == "after":
                self._hold_next = True
                return None
            return point.where

    async def pass_through(
        self, request: web.Request, info: RequestInfo, user: str, dispatch: Dispatch
    ) -> web.StreamResponse:
        where = self._decide(info, user)
        if where is None:
            return await dispatch()
        answer = await dispatch() if where == "applied" else None
        self.held_request = f"{info.verb} {info.resource}/{info.name}".rstrip("/")
        self._held.set()
        while not self._released.is_set():  # the test thread releases it
            await asyncio.sleep(0.01)
        if self._action == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.StreamResponse()
        return answer if answer is not None else await dispatch()
