"""Workloads in the sandbox: the clock, the CronJob and Job controllers and the local kubelet.

    workloads = Workloads(store, server)     # done by `Sandbox`; reads WorkloadsConfig.from_env()
    workloads.clock.set(datetime(2025, 3, 9, 23, 58, tzinfo=UTC))
    workloads.clock.advance(120)
    await workloads.settle()                 # controllers idle (processes may still run)

Attaching registers, on the HTTP server: `pods/log`, and sandbox-only endpoints
- `GET  /sandbox/clock`            -> {"now", "speed", "frozen"}
- `POST /sandbox/clock`            body: {"now": RFC3339} | {"advance": seconds} | {"speed": N}
                                   | {"freeze": true}; answers after the controllers settle
- `POST /sandbox/workloads/settle` -> wait until controllers are idle
- `GET  /sandbox/workloads/processes` -> pids of running container processes
and starts/stops everything with the server (aiohttp startup/cleanup signals).

Configuration (environment, read once): ARCHIVE_SANDBOX_IMAGES (YAML file with `images:`, a
list of image rules), ARCHIVE_SANDBOX_CLOCK_SPEED (default 1; 0 freezes),
ARCHIVE_SANDBOX_CLOCK_START (RFC3339), ARCHIVE_SANDBOX_STATE_DIR (default: a temporary
directory removed at stop).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .. import errors as err
from ..clock import Clock, Timers
from ..kubelet import Kubelet
from ..kubelet_api import StoreNodeAPI
from ..kubelet_logs import LogHandler
from ..kubelet_spec import ImageRule
from ..meta import parse_rfc3339
from ..server import SandboxServer
from ..store import Store
from . import cron
from .base import EventRecorder
from .cronjob import CronJobController
from .job import JobController

RUNNER_RULE = ImageRule(
    image="*archive-runner",
    entrypoint=("archive-runner",),
    cmd=("--help",),
    working_dir="/tmp",
    path=(str(Path(sys.executable).parent),),
)


@dataclass
class WorkloadsConfig:
    images: list[ImageRule] = field(default_factory=lambda: [RUNNER_RULE])
    clock_start: datetime | None = None
    clock_speed: float = 1.0
    state_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WorkloadsConfig:
        config = cls()
        if path := environ.get("ARCHIVE_SANDBOX_IMAGES"):
            config.images = [*load_image_rules(Path(path)), RUNNER_RULE]
        if speed := environ.get("ARCHIVE_SANDBOX_CLOCK_SPEED"):
            try:
                config.clock_speed = float(speed)
            except ValueError:
                raise ValueError(
                    f"ARCHIVE_SANDBOX_CLOCK_SPEED={speed!r} is not a number; use e.g. 60 or 0 to "
                    "freeze"
                ) from None
        if start := environ.get("ARCHIVE_SANDBOX_CLOCK_START"):
            try:
                config.clock_start = parse_rfc3339(start)
            except ValueError:
                raise ValueError(
                    f"ARCHIVE_SANDBOX_CLOCK_START={start!r} is not an RFC3339 time; use e.g. "
                    "2025-03-09T23:58:00Z"
                ) from None
        if state := environ.get("ARCHIVE_SANDBOX_STATE_DIR"):
            config.state_dir = Path(state)
        return config


def load_image_rules(path: Path) -> list[ImageRule]:
    doc = yaml.safe_load(path.read_text()) or {}
    rules = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        raise ValueError(
            f"{path}: expected a mapping with an 'images' list of rules (image, entrypoint, cmd, "
            "workingDir, env, path)"
        )
    return [ImageRule.from_dict(r) for r in rules]


class Workloads:
    def __init__(
        self,
        store: Store,
        server: SandboxServer | None = None,
        config: WorkloadsConfig | None = None,
    ) -> None:
        config = config or WorkloadsConfig.from_env()
        self.store = store
        self.clock = Clock(start=config.clock_start, speed=config.clock_speed)
        store.now = self.clock.now  # creation/deletion timestamps follow the sandbox clock
        self.timers = Timers(self.clock)
        self._own_state_dir = config.state_dir is None
        self.state_dir = config.state_dir or Path(tempfile.mkdtemp(prefix="archive-sandbox-"))
        events = EventRecorder(store)
        self.kubelet = Kubelet(
            StoreNodeAPI(store, events),
            self.clock,
            self.timers,
            list(config.images),
            self.state_dir,
        )
        self.jobs = JobController(store, self.clock, self.timers, events)
        self.cronjobs = CronJobController(store, self.clock, self.timers, events)
        store.add_admission(("batch", "cronjobs"), _validate_cronjob)
        self.running = False
        if server is not None:
            self.attach(server)

    @property
    def images(self) -> list[ImageRule]:
        return self.kubelet.images

    @images.setter
    def images(self, rules: list[ImageRule]) -> None:
        self.kubelet.images = list(rules)

    def attach(self, server: SandboxServer) -> None:
        server.register_subresource("", "pods", "log", LogHandler(self.kubelet))
        server.app.middlewares.append(self._endpoints)

        async def on_startup(_: web.Application) -> None:
            await self.start()

        async def on_cleanup(_: web.Application) -> None:
            await self.stop()

        server.app.on_startup.append(on_startup)
        server.app.on_cleanup.append(on_cleanup)

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.timers.start()
        self.kubelet.start()
        self.jobs.start()
        self.cronjobs.start()
        self.running = True

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        await self.cronjobs.stop()
        await self.jobs.stop()
        await self.kubelet.stop()
        await self.timers.stop()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        else:
            shutil.rmtree(self.state_dir / "pods", ignore_errors=True)

    async def restart_node_agent(self) -> None:
        """The node agent killed (its pods' processes die with it, nothing is reported) and
        started again: pods that were running are then reported lost (kubelet.py)."""
        await self.kubelet.crash()
        self.kubelet.start()

    async def settle(self, rounds: int = 200) -> None:
        """Run due timers and wait until garbage collection and every controller are idle."""
        queues = (self.cronjobs.queue, self.jobs.queue, self.kubelet.queue)
        for _ in range(rounds):
            before = self.store.resource_version
            fired = self.timers.fire_due()
            await self.store.gc.settle()
            for queue in queues:
                await queue.join()
            await self.kubelet.wait_for_spawns()
            await asyncio.sleep(0)
            if not fired and before == self.store.resource_version and all(q.idle for q in queues):
                return

    # --- sandbox-only HTTP endpoints ------------------------------------------------------------

    @web.middleware
    async def _endpoints(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path.rstrip("/")
        try:
            if path == "/sandbox/clock":
                if request.method == "POST":
                    self._move_clock(await _json_body(request))
                    await self.settle()
                return _json(self.clock.state())
            if path == "/sandbox/workloads/settle" and request.method == "POST":
                await self.settle()
                return _json({"resourceVersion": str(self.store.resource_version)})
            if path == "/sandbox/workloads/processes" and request.method == "GET":
                return _json({"pids": self.kubelet.process_ids()})
        except err.ApiError as e:
            return _json(e.status(), e.code)
        return await handler(request)

    def _move_clock(self, body: dict[str, Any]) -> None:
        try:
            if "now" in body:
                self.clock.set(parse_rfc3339(str(body["now"])))
            if "advance" in body:
                self.clock.advance(float(body["advance"]))
            if "speed" in body:
                self.clock.set_speed(float(body["speed"]))
            if body.get("freeze"):
                self.clock.freeze()
        except (TypeError, ValueError) as e:
            raise err.bad_request(
                f"sandbox clock: {e}; send {{'now': RFC3339}}, {{'advance': seconds}}, "
                f"{{'speed': N}} or {{'freeze': true}}"
            ) from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise err.bad_request("sandbox clock: the body is not JSON") from None
    if not isinstance(body, dict):
        raise err.bad_request("sandbox clock: the body must be a JSON object")
    return body


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _validate_cronjob(
    operation: str, obj: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """The API server's checks of spec.schedule and spec.timeZone (batch validation)."""
    spec = obj.get("spec") or {}
    name = obj["metadata"].get("name", "")
    schedule = str(spec.get("schedule", ""))
    zone = spec.get("timeZone")
    problems: list[tuple[str, str, str]] = []
    if not schedule:
        problems.append(("FieldValueRequired", "spec.schedule", "Required value"))
    else:
        try:
            cron.parse(schedule)
        except cron.CronError as e:
            problems.append(
                ("FieldValueInvalid", "spec.schedule", f'Invalid value: "{schedule}": {e}')
            )
        old_had_tz = old is not None and "TZ" in str((old.get("spec") or {}).get("schedule", ""))
        if "TZ" in schedule and not old_had_tz:
            problems.append(
                (
                    "FieldValueInvalid",
                    "spec.schedule",
                    f'Invalid value: "{schedule}": cannot use TZ or CRON_TZ in schedule, use '
                    "timeZone field instead",
                )
            )
        elif "TZ" in schedule and zone is not None:
            problems.append(
                (
                    "FieldValueInvalid",
                    "spec.schedule",
                    f'Invalid value: "{schedule}": cannot use both timeZone field and TZ or '
                    "CRON_TZ in schedule",
                )
            )
    if zone is not None:
        try:
            if not zone:
                raise cron.CronError("timeZone must be nil or non-empty string")
            cron.load_zone(zone)
        except cron.CronError as e:
            problems.append(("FieldValueInvalid", "spec.timeZone", f'Invalid value: "{zone}": {e}'))
    if problems:
        raise err.invalid("CronJob", "batch", name, problems)
    return obj
