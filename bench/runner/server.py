"""A real Radicale for the benchmark: loopback, free port, throwaway storage, request log.

Started the way tests/fixtures/radicale.py starts it (htpasswd user, no auth delay), but with
``[logging] level = info`` so that every request leaves one ``<METHOD> request for`` line in
its log: the benchmark counts requests there, so no proxy sits in the timed path and every
client is counted the same way.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

USERNAME = "bench"
PASSWORD = "bench-secret"
_REQUEST = re.compile(r"\] (\w+) request for '")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Radicale:
    """One Radicale process over ``root``; ``start()``/``stop()`` keep port and storage."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def log(self) -> Path:
        return self.root / "radicale.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def collection_path(self, name: str) -> Path:
        return self.storage / "collection-root" / USERNAME / name

    def collection_url(self, name: str) -> str:
        return f"{self.base_url}/{USERNAME}/{name}/"

    def new_collection(self, name: str) -> Path:
        path = self.collection_path(name)
        path.mkdir(parents=True)
        (path / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}), "utf-8")
        return path

    def start(self) -> Radicale:
        self.storage.mkdir(parents=True, exist_ok=True)
        users = self.root / "users"
        users.write_text(f"{USERNAME}:{PASSWORD}\n", "utf-8")
        config = self.root / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\ndelay_on_error = 0\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\ndelay = 0\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.storage}\n"
            "[web]\ntype = none\n[logging]\nlevel = info\n",
            "utf-8",
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"radicale exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # polling with a deadline
        raise RuntimeError(f"radicale did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_offset(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def requests_since(self, offset: int) -> Counter[str]:
        """Requests by method logged after ``offset`` (from ``log_offset()``)."""
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        return Counter(_REQUEST.findall(text))

    def __enter__(self) -> Radicale:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
