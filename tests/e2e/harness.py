"""The e2e harness: a cluster (the sandbox, or a real one), the operator, a CalDAV server, a
webhook receiver. Tests drive only the Kubernetes API, kubectl and (on the sandbox) its clock.

Environment (see tests/e2e/README.md):
  ARCHIVE_E2E_KUBECONFIG     a real cluster's kubeconfig (unset: the sandbox)
  ARCHIVE_E2E_RUNNER_IMAGE   the runner image the cluster pulls (default archive-runner:e2e)
  ARCHIVE_E2E_CALDAV_URL     a CalDAV server the runner pods reach, e.g. http://radicale:5232
                             (unset: a local Radicale on 127.0.0.1)
  ARCHIVE_E2E_CALDAV_USER / ARCHIVE_E2E_CALDAV_PASSWORD   its user (default alice / secret)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.fixtures.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """kubectl and the API of the cluster under test, plus the sandbox's clock when there is one."""

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        sandbox_url: str | None,
        *,
        pods_reach_loopback: bool,
        operator_kubeconfig: Path | None = None,
        operator_args: list[str] | None = None,
        real: Any = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.sandbox_url = sandbox_url
        self.pods_reach_loopback = pods_reach_loopback
        self.real = real  # the launched control plane (tests/fixtures/controlplane.py), if any
        # Whom the operator runs as: the chart's ServiceAccount on the real control plane, so
        # the real authorizer decides each of its requests; else the tests' own identity.
        self.operator_kubeconfig = operator_kubeconfig or kubeconfig
        # Its command line: the chart's there; else only the test namespaces (e2e-*).
        self.operator_args = operator_args or ["run", "--standalone", "--namespace", "e2e-*"]
        (workdir / "home").mkdir(parents=True, exist_ok=True)

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_url is not None

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "HOME": str(self.workdir / "home"),
            "KUBECONFIG": str(self.kubeconfig),
        }

    def kubectl(
        self, *args: str, namespace: str | None = None, input: str | None = None, check: bool = True
    ) -> str:
        command = [str(BIN / "kubectl"), *args]
        if namespace:
            command.insert(1, f"--namespace={namespace}")
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, env=self.env(), timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}{result.stdout}")
        return result.stdout

    def get(self, kind: str, namespace: str, name: str | None = None) -> Any:
        args = ["get", kind, *([name] if name else []), "-o", "json"]
        out = self.kubectl(*args, namespace=namespace, check=name is None)
        return json.loads(out) if out.strip() else None

    def try_get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        out = self.kubectl(
            "get", kind, name, "-o", "json", "--ignore-not-found", namespace=namespace
        )
        return json.loads(out) if out.strip() else None

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[Any]:
        args = ["get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        return list(json.loads(self.kubectl(*args, namespace=namespace))["items"])

    def apply(self, manifest: str, namespace: str) -> None:
        self.kubectl("apply", "-f", "-", namespace=namespace, input=manifest)

    # --- the sandbox's clock (sandbox only) ---------------------------------------------------

    def clock(self, **body: Any) -> dict[str, Any]:
        assert self.sandbox_url is not None, "the clock can only be moved on the sandbox"
        response = httpx.post(f"{self.sandbox_url}/sandbox/clock", json=body, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def now(self) -> datetime:
        if self.sandbox_url is None:
            return datetime.now(UTC)
        state = httpx.get(f"{self.sandbox_url}/sandbox/clock", timeout=30).json()
        return datetime.fromisoformat(state["now"].replace("Z", "+00:00"))


@contextmanager
def user_namespace(cluster: Cluster, prefix: str) -> Iterator[str]:
    """A fresh namespace ``<prefix><random>`` holding alice's calendar Secret ``calendar``."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    # The archive's credentials too: a source behind a GatedProxy is another origin (its port)
    # than the archive, and the runner lends the source's only to the source's origin.
    cluster.kubectl(
        "create", "secret", "generic", "calendar",
        "--from-literal=username=alice", "--from-literal=password=secret",
        "--from-literal=destination-username=alice", "--from-literal=destination-password=secret",
        namespace=name,
    )  # fmt: skip
    # Whose credentials they are (the operator's ownership check: ownership.py).
    cluster.kubectl(
        "annotate", "secret", "calendar", "archive.auriora.io/user=alice", namespace=name
    )
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


class Operator:
    """The operator as a local process (both on the sandbox and against a real cluster)."""

    def __init__(
        self, cluster: Cluster, runner_image: str, log: Path, args: list[str] | None = None
    ) -> None:
        self.cluster = cluster
        self.runner_image = runner_image
        self.log = log
        self.args = args or cluster.operator_args  # after `archive-operator`
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            **self.cluster.env(),
            "KUBECONFIG": str(self.cluster.operator_kubeconfig),
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": self.runner_image,
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": "2",
            "ARCHIVE_OPERATOR_LOG_FORMAT": "text",
            # The WebhookReceiver listens on loopback, which the operator refuses as a webhook
            # target unless the installation allows it (the chart's
            # notifications.webhookAllowedTargets).
            "ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS": "127.0.0.1",
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "archive-operator"), *self.args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a node dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class CalDAV:
    """A CalDAV server over HTTP (Radicale here; any server in real-cluster mode)."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.password = password
        self.http = httpx.Client(auth=(user, password), timeout=30)

    def new_calendar(self, prefix: str) -> str:
        url = f"{self.base_url}/{self.user}/{prefix}-{uuid.uuid4().hex[:8]}/"
        response = self.http.request("MKCALENDAR", url)
        assert response.status_code in (201, 200), response.text
        return url

    def put(self, calendar: str, uid: str, ics: str) -> None:
        response = self.http.put(
            f"{calendar}{uid}.ics", content=ics, headers={"Content-Type": "text/calendar"}
        )
        assert response.status_code in (201, 204), response.text

    def items(self, calendar: str) -> list[str]:
        """The calendar objects' texts."""
        body = (
            '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
            '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
        )
        response = self.http.request(
            "REPORT", calendar, content=body, headers={"Depth": "1", "Content-Type": "text/xml"}
        )
        assert response.status_code == 207, response.text
        import xml.etree.ElementTree as ET

        root = ET.fromstring(response.content)
        return [
            el.text or ""
            for el in root.iter("{urn:ietf:params:xml:ns:caldav}calendar-data")
            if el.text
        ]


def vevent(uid: str, start: datetime, summary: str, minutes: int = 30) -> str:
    """One event at an instant (written in UTC)."""
    begin = start.astimezone(UTC)
    end = begin.timestamp() + minutes * 60
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//archive-operator//e2e//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART:{begin.strftime(fmt)}\r\n"
        f"DTEND:{datetime.fromtimestamp(end, UTC).strftime(fmt)}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


class WebhookReceiver:
    """A local HTTP server recording the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        received = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kinds(self) -> list[str]:
        return [str(p.get("kind")) for p in self.payloads]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Not passed on: the proxy sends the body decoded and with its own length.
HOP_HEADERS = ("transfer-encoding", "connection", "content-length", "content-encoding")


class GatedProxy:
    """A reverse proxy that holds requests until ``release`` is set (a run 'mid-way'): every
    request, or those ``hold(method, n)`` picks (the n-th request with that method, from 1).
    When the upstream server is gone, the client's connection is closed without an answer."""

    def __init__(self, upstream: str, hold: Callable[[str, int], bool] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.waiting = threading.Event()
        self.release = threading.Event()
        seen: Counter[str] = Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                with lock:
                    seen[self.command] += 1
                    held = hold is None or hold(self.command, seen[self.command])
                if held:
                    proxy.waiting.set()
                    proxy.release.wait(60)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "accept-encoding")
                }
                try:
                    response = httpx.request(
                        self.command, proxy.upstream + self.path, headers=headers, content=body
                    )
                except httpx.TransportError:  # the server is down: so is this connection
                    self.close_connection = True
                    return
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_PUT = do_REPORT = do_PROPFIND = do_PROPPATCH = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GatedProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
