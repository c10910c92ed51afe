"""The whole sandbox in one object, runnable on the current loop or in a background thread.

with Sandbox.threaded() as sb:           # own event loop in a daemon thread
    sb.url, sb.write_kubeconfig(path)
    sb.call(sb.store.get(...))            # run a coroutine on the sandbox loop
    sb.requests.writes_since(mark)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .auth import Users
from .controllers.workloads import Workloads
from .kubeconfig import write_kubeconfig
from .requestlog import RequestLog
from .server import SandboxServer
from .store import Store

T = TypeVar("T")


class Sandbox:
    def __init__(
        self,
        *,
        users: Users | None = None,
        bookmark_interval: float = 5.0,
        history_size: int = 20000,
    ) -> None:
        self.store = Store(history_size=history_size)
        self.users = users or Users()
        self.requests = RequestLog()
        self.server = SandboxServer(
            self.store,
            users=self.users,
            request_log=self.requests,
            bookmark_interval=bookmark_interval,
        )
        self.faults = self.server.faults  # fault mode (faults.py), off by default
        self.gate = self.server.gate  # holds one request at an exact point (gate.py)
        # Clock, CronJob/Job controllers and the local kubelet; they start and stop with the server.
        self.workloads = Workloads(self.store, self.server)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.loop = asyncio.get_running_loop()
        return await self.server.start(host, port)

    async def stop(self) -> None:
        await self.server.stop()

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        return write_kubeconfig(path, self.url, namespace=namespace)

    async def apply_crd_files(self, paths: list[Path]) -> list[str]:
        """Create (or replace) the CRDs in YAML files; returns their names."""
        crd_rt = self.store.resource("apiextensions.k8s.io", "customresourcedefinitions")
        names = []
        for path in paths:
            for doc in yaml.safe_load_all(Path(path).read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                name = doc["metadata"]["name"]
                existing = self.store.peek(crd_rt.storage_key, "", name)
                if existing is None:
                    await self.store.create(crd_rt, None, doc, field_manager="archive-sandbox")
                else:
                    doc["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                    await self.store.update(
                        crd_rt, None, name, doc, field_manager="archive-sandbox"
                    )
                names.append(name)
        return names

    # --- running in a background thread --------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the sandbox's loop from another thread and return its result."""
        assert self.loop is not None, "sandbox not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def restart_node_agent(self) -> None:
        """From another thread: restart the local node agent mid-pod (Workloads)."""
        self.call(self.workloads.restart_node_agent())

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start(host, port))
            except BaseException as e:  # report start-up failures to the caller
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="archive-sandbox", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self.url

    def stop_thread(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None

    @classmethod
    @contextmanager
    def threaded(cls, **kwargs: Any) -> Iterator[Sandbox]:
        sandbox = cls(**kwargs)
        sandbox.start_in_thread()
        try:
            yield sandbox
        finally:
            sandbox.stop_thread()
