"""A Radicale process a test may stop (gracefully or with SIGKILL) and start again on the same
port and storage: "the calendar server went down mid-run" with a real server going down.

The session fixture's server (tests/fixtures/radicale.py) is shared, so it must never stop;
this one belongs to a single test. Same throwaway config: loopback, htpasswd, no delays.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.fixtures.radicale import (
    Collection,
    free_port,
    make_collection,
    start_radicale,
    write_config,
)


class StoppableRadicale:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.storage = root / "storage"
        self.storage.mkdir(parents=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(root, self.port, self.storage)
        self.log = root / "radicale.log"
        self.process: subprocess.Popen[bytes] | None = None

    def new_collection(self, name: str) -> Collection:
        return make_collection(self.storage, self.base_url, name)

    def start(self) -> None:
        self.process = start_radicale(self.config, self.port, self.log)

    def stop(self, how: str = "terminate") -> None:
        """Stop the server and wait until it is gone ("terminate" = SIGTERM, "kill" = SIGKILL)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
