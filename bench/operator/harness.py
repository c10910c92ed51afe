"""Processes and probes for the operator and plugin benchmarks.

* `SandboxProcess`: `archive-sandbox serve` on a free port with the project's CRDs, its own
  kubeconfig, and its request log read over HTTP (`GET /sandbox/requests`).
* `OperatorProcess`: `archive-operator run --standalone -A` under kopf, with that kubeconfig.
* `Watcher`: one watch stream per resource, noting when a predicate over the current objects
  first holds. The benchmarks wait on watches, not on polling LISTs, so that waiting adds almost
  no load to the sandbox being measured.
* `ProcStats`: CPU seconds and peak RSS of a process from /proc.
* `http_pool`: raw requests with a kubeconfig's credentials, a bearer token (the sandbox) or a
  client certificate (a real control plane; realcluster.py has the cluster side).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import urllib3
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BENCH_USER_AGENT = "archive-bench/1"
# In a scenario's operator environment: "off" runs the operator through nocoverage.py (coverage
# decided for no schedule) instead of the `archive-operator` console script.
COVERAGE_ENV = "ARCHIVE_BENCH_COVERAGE"
_LISTENING = re.compile(r"listening on (http://\S+)")
_LINE_NUMBER = re.compile(r":\d+\)$")

Manifest = dict[str, Any]
# A `SandboxProcess` or a `realcluster.RealClusterProcess`: kubeconfig, start/stop, settle,
# server_pids/other_pids, and the request log (mark, requests_since).
ClusterLike = Any


def wait_until(check: Callable[[], Any], what: str, timeout: float, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; raise naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class ProcStats:
    """CPU time and memory of one process, read from /proc (Linux)."""

    pid: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_kib(self, key: str) -> int:
        """``VmHWM`` (peak resident set) or ``VmRSS`` (current), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)


class SandboxProcess:
    """`archive-sandbox serve` in its own directory; stopped (SIGTERM) by `stop()`."""

    def __init__(
        self, workdir: Path, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.env = env or {}
        self.kubeconfig = workdir / "kubeconfig"
        self.log_path = workdir / "sandbox.log"
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._http = urllib3.PoolManager()

    def start(self, timeout: float = 60.0) -> None:
        command = [
            str(BIN / "archive-sandbox"),
            "serve",
            "--port",
            "0",
            "--kubeconfig",
            str(self.kubeconfig),
            "--crds",
            str(ROOT / "crds"),
            *self.extra_args,
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )

        def listening() -> str | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited: {self.log_path.read_text()[-2000:]}")
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            return match.group(1) if match and self.kubeconfig.exists() else None

        self.url = wait_until(listening, "the sandbox to listen", timeout)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def server_pids(self) -> dict[str, int]:
        """The processes serving the API (whose CPU the benchmark reports as the server's)."""
        return {"sandbox": self.pid}

    def other_pids(self) -> dict[str, int]:
        """Other cluster processes whose CPU is reported beside the server's (none here)."""
        return {}

    def settle(self, seconds: float) -> float:
        """Nothing runs in the background of a sandbox: no wait, no background CPU."""
        return 0.0

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    # --- the request log ------------------------------------------------------------------------

    def mark(self) -> int:
        response = self._http.request("POST", f"{self.url}/sandbox/requests/mark")
        return int(json.loads(response.data)["mark"])

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        response = self._http.request("GET", f"{self.url}/sandbox/requests?since={mark}")
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return items


class OperatorProcess:
    """`archive-operator run --standalone -A` against a sandbox's kubeconfig (with
    ``ARCHIVE_BENCH_COVERAGE=off`` in ``env``: the same through nocoverage.py)."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": "archive-runner:bench",
            **self.env,
        }
        program = [str(BIN / "archive-operator")]
        if self.env.get(COVERAGE_ENV) == "off":
            program = [sys.executable, "-m", "bench.operator.nocoverage"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*program, "run", "--standalone", "-A", "--quiet"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class Profiler:
    """`py-spy record` of one process into a collapsed-stack file, for `top_functions()`."""

    def __init__(self, pid: int, output: Path, rate: int = 100) -> None:
        self.output = output
        command = [str(BIN / "py-spy"), "record", "-p", str(pid), "-f", "raw", "-r", str(rate)]
        self.process = subprocess.Popen(
            [*command, "-o", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def top_functions(collapsed: Path, limit: int = 15) -> list[tuple[str, float, float]]:
    """(function, share of samples where it is on the stack, share where it is on top)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    return [(f, n / total, own.get(f, 0) / total) for f, n in ranked[:limit]] if total else []


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_for_watches(
    sandbox: Any, mark: int, resources: set[str], user_agent_prefix: str, timeout: float
) -> None:
    """Until a client whose user agent starts with the prefix watches every one of ``resources``
    (how the benchmark knows kopf is up and listening before it starts the clock). ``sandbox``:
    a `SandboxProcess` or a `realcluster.RealClusterProcess` (the same request-log calls)."""

    def watching() -> bool:
        seen = {
            r["resource"]
            for r in sandbox.requests_since(mark)
            if r["verb"] == "watch" and r["user_agent"].startswith(user_agent_prefix)
        }
        return resources <= seen

    wait_until(watching, f"watches on {sorted(resources)}", timeout)


# --- API access ---------------------------------------------------------------------------------


def api_client(kubeconfig: Path) -> kubernetes.client.ApiClient:
    """A `kubernetes` client for the kubeconfig, with the benchmark's own user agent (so its
    requests are told apart from the operator's in the request log)."""
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    client.user_agent = BENCH_USER_AGENT
    return client


def post(client: kubernetes.client.ApiClient, path: str, body: Manifest) -> None:
    """One POST through the client's transport; the answer is read but not deserialised (the
    same client cost for every kind of object)."""
    _, url, headers, body, _ = client.param_serialize(
        method="POST",
        resource_path=path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = client.call_api("POST", url, header_params=headers, body=body)
    response.read()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"POST {path}: {response.status} {response.data[:300]!r}")


def create_namespace(client: kubernetes.client.ApiClient, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    post(client, "/api/v1/namespaces", body)


def http_pool(kubeconfig: Path) -> tuple[str, urllib3.PoolManager, dict[str, str]]:
    """Server URL, connection pool and headers for raw requests with a kubeconfig's first user:
    a bearer token (the sandbox) or a client certificate and CA (a real control plane)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    headers = {"User-Agent": BENCH_USER_AGENT}
    options: dict[str, Any] = {}
    if "certificate-authority" in cluster:
        options.update(cert_reqs="CERT_REQUIRED", ca_certs=cluster["certificate-authority"])
    if "client-certificate" in user:
        options.update(cert_file=user["client-certificate"], key_file=user["client-key"])
    if "token" in user:
        headers["Authorization"] = f"Bearer {user['token']}"
    return str(cluster["server"]), urllib3.PoolManager(**options), headers


def bearer_headers(kubeconfig: Path) -> tuple[str, dict[str, str]]:
    """The server URL and Authorization header from a sandbox kubeconfig."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = str(config["clusters"][0]["cluster"]["server"])
    token = str(config["users"][0]["user"]["token"])
    return server, {"Authorization": f"Bearer {token}", "User-Agent": BENCH_USER_AGENT}


@dataclass
class Watcher:
    """Watches one resource collection; ``done_at`` is when ``complete(objects)`` first held."""

    kubeconfig: Path
    path: str
    complete: Callable[[dict[str, Manifest]], bool]
    objects: dict[str, Manifest] = field(default_factory=dict)
    done_at: float | None = None
    error: BaseException | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> float:
        if not self._done.wait(timeout):
            raise TimeoutError(f"watch {self.path}: incomplete after {timeout:.0f}s")
        if self.error is not None:
            raise self.error
        assert self.done_at is not None
        return self.done_at

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            for event in self._events():
                kind, obj = event["type"], event["object"]
                if kind == "BOOKMARK":
                    continue
                key = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.objects.pop(key, None)
                else:
                    self.objects[key] = obj
                if self.done_at is None and self.complete(self.objects):
                    self.done_at = time.monotonic()
                    self._done.set()
                if self._stop.is_set():
                    return
        except BaseException as exc:  # surfaced by wait()
            self.error = exc
            self._done.set()

    def _events(self) -> Iterator[dict[str, Any]]:
        server, http, headers = http_pool(self.kubeconfig)
        url = f"{server}{self.path}?watch=1&allowWatchBookmarks=true"
        response = http.request(
            "GET", url, headers=headers, preload_content=False, timeout=urllib3.Timeout(read=None)
        )
        buffer = b""
        for chunk in response.stream(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def temp_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
