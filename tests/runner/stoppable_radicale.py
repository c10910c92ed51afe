"""A Radicale process a test may stop (gracefully or with SIGKILL) and start again on the same
port and storage: "the calendar server went down mid-run" with a real server going down.

The session fixture's server (tests/fixtures/radicale.py) is shared, so it must never stop;
this one belongs to a single test. Same throwaway config: loopback, htpasswd, no delays.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.radicale import PASSWORD, USERNAME, Collection


class StoppableRadicale:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.storage = root / "storage"
        self.storage.mkdir(parents=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        users = root / "users"
        users.write_text(f"{USERNAME}:{PASSWORD}\n", "utf-8")
        self.config = root / "config"
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\ndelay_on_error = 0\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\ndelay = 0\n[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.storage}\n"
            "[web]\ntype = none\n[logging]\nlevel = warning\n",
            "utf-8",
        )
        self.log = root / "radicale.log"
        self.process: subprocess.Popen[bytes] | None = None

    def new_collection(self, name: str) -> Collection:
        path = self.storage / "collection-root" / USERNAME / name
        path.mkdir(parents=True)
        (path / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}), "utf-8")
        return Collection(url=f"{self.base_url}/{USERNAME}/{name}/", path=path)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"radicale exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # polling with a deadline
        raise RuntimeError(f"radicale did not listen on {self.port}: {self.log.read_text()}")

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
