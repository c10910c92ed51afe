"""Start and stop a real Kubernetes control plane on loopback: the one place tests, the demo and
the benchmarks get one from.

    with ControlPlane.started(workdir) as cp:   # builds once (controlplane/build.sh), then starts
        cp.admin_kubeconfig                        # O=system:masters
        cp.client_kubeconfig("system:node:n1", ("system:nodes",), path)
        cp.token_kubeconfig(token, path)           # e.g. a ServiceAccount's TokenRequest token

Start order: etcd, kube-apiserver (waits for /readyz), kube-controller-manager and
kube-scheduler (wait for /healthz). Every component listens on 127.0.0.1 on a free port, runs
with the identity a real cluster gives it (pki.py), and writes its log to workdir/logs/.
Stopping (also on SIGTERM when run as `python -m archive_controlplane`) sends SIGTERM in reverse
order, SIGKILL after a grace period, and removes etcd's data directory. Each process is also set
to die with the process that started it (PR_SET_PDEATHSIG), so a killed test run leaves none.

One component at a time (fault tests: tests/real/test_control_plane_faults_real.py):
`stop_component(name, signal.SIGTERM | signal.SIGKILL)` stops it and returns its exit status,
`start_component(name)` starts it again with the same command line, environment, data and port
and waits for its health, `restart(name, how, down_seconds=...)` does both. Names: "etcd",
"kube-apiserver", "kube-controller-manager", "kube-scheduler", "node-<node name>". etcd keeps
its data directory, the API server its certificates and keys; `stop()` still stops everything.
Measured here: kube-apiserver does not exit on SIGTERM within the grace period (it stops
listening at once, then waits for open watch connections), so it is SIGKILLed after it.

Extra environment: `ControlPlane.started(workdir, env={...})` adds those variables to the
environment of every process it starts (etcd, the kube-* components, node agents), which
otherwise inherit the caller's. E.g. `env={"ZONEINFO": "/path/to/zoneinfo"}` makes
kube-apiserver (CronJob timeZone validation) and kube-controller-manager (the CronJob
controller) read time zones from that directory first: Go's time.LoadLocation consults
$ZONEINFO before the system's database and the tzdata embedded in the binaries.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .pki import PKI, KeyPair

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "controlplane" / "build.sh"
SERVICE_RANGE = "10.0.0.0/24"
ISSUER = "https://kubernetes.default.svc.cluster.local"
STOP_GRACE_SECONDS = 10.0
START_TIMEOUT_SECONDS = 120.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which part and why."""


def binaries(build: bool = True) -> Path:
    """The folder holding etcd and the kube-* binaries; builds them first when `build` (cached)."""
    args = [str(BUILD_SCRIPT)] if build else [str(BUILD_SCRIPT), "--print"]
    done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise ControlPlaneError(
            f"{BUILD_SCRIPT.relative_to(REPO)} failed (exit {done.returncode}); its output says why"
        )
    folder = Path(done.stdout.strip().splitlines()[-1])
    if not (folder / "kube-apiserver").exists():
        raise ControlPlaneError(f"no control-plane binaries in {folder}: run make controlplane")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def write_kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    *,
    user: str,
    client: KeyPair | None = None,
    token: str | None = None,
    namespace: str = "default",
) -> Path:
    credentials: dict[str, str] = {}
    if client is not None:
        credentials = {"client-certificate": str(client.cert), "client-key": str(client.key)}
    if token is not None:
        credentials = {"token": token}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "archive-test",
                "cluster": {"server": server, "certificate-authority": str(ca)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {
                "name": user,
                "context": {"cluster": "archive-test", "user": user, "namespace": namespace},
            }
        ],
        "current-context": user,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class Component:
    name: str
    argv: list[str]
    health_url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


@dataclass
class ControlPlane:
    workdir: Path
    bin_dir: Path
    audit: bool = True
    # Added to the inherited environment of every process started (see the module docstring).
    env: Mapping[str, str] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = PKI(self.workdir / "pki")
        self.api_port = free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self.data_dir = self.workdir / "etcd-data"
        self.logs = self.workdir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.audit_log = self.logs / "audit.jsonl"
        self.admin_kubeconfig = self.client_kubeconfig("admin", ("system:masters",))
        self.admin = KeyPair(self.pki.directory / "admin.crt", self.pki.directory / "admin.key")

    # --- identities -------------------------------------------------------------------------

    def client_kubeconfig(
        self, cn: str, groups: tuple[str, ...] = (), path: Path | None = None
    ) -> Path:
        """A kubeconfig authenticating as `cn` in `groups` with a client certificate."""
        stem = cn.replace(":", "-")
        pair = self.pki.issue(stem, cn, groups)
        target = path or self.workdir / "kubeconfigs" / f"{stem}.yaml"
        return write_kubeconfig(target, self.server, self.pki.ca.cert, user=stem, client=pair)

    def token_kubeconfig(self, token: str, path: Path, namespace: str = "default") -> Path:
        return write_kubeconfig(
            path, self.server, self.pki.ca.cert, user="token", token=token, namespace=namespace
        )

    # --- start / stop -----------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def started(
        cls, workdir: Path, *, audit: bool = True, env: Mapping[str, str] | None = None
    ) -> Iterator[ControlPlane]:
        plane = cls(workdir, binaries(), audit=audit, env=dict(env or {}))
        try:
            plane.start()
            yield plane
        finally:
            plane.stop()

    def start(self) -> None:
        etcd_port, peer_port = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._launch(
            Component(
                "etcd",
                [
                    str(self.bin_dir / "etcd"),
                    "--name=default",
                    f"--data-dir={self.data_dir}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--unsafe-no-fsync=true",  # test data: durability is not worth the fsyncs
                    "--log-level=warn",
                ],
                f"{etcd_url}/health",
            )
        )
        self._launch(
            Component("kube-apiserver", self._apiserver_args(etcd_url), f"{self.server}/readyz")
        )
        self._launch(
            Component(
                "kube-controller-manager",
                self._controller_manager_args(port := free_port()),
                f"https://127.0.0.1:{port}/healthz",
            )
        )
        self._launch(
            Component(
                "kube-scheduler",
                self._scheduler_args(port := free_port()),
                f"https://127.0.0.1:{port}/healthz",
            )
        )

    def start_node(self, name: str = "node-1", images: Path | None = None) -> Path:
        """Start the project's node agent (sandbox/README.md) as Node `name`; return its kubeconfig.

        It authenticates as a real node does (system:node:<name> in system:nodes), so the Node
        authorizer and NodeRestriction admission apply to it.
        """
        config = self.client_kubeconfig(f"system:node:{name}", ("system:nodes",))
        argv = [
            str(Path(sys.executable).parent / "archive-sandbox"),
            "node",
            f"--kubeconfig={config}",
            f"--node-name={name}",
            f"--state-dir={self.workdir / 'nodes' / name}",
        ]
        if images is not None:
            argv.append(f"--images={images}")
        self._launch(Component(f"node-{name}", argv, f"{self.server}/api/v1/nodes/{name}"))
        return config

    def _apiserver_args(self, etcd_url: str) -> list[str]:
        serving = self.pki.serving("kube-apiserver")
        sa = self.pki.service_account_keys()
        kubelet_client = self.pki.issue(
            "kube-apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)
        )
        args = [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Service's endpoints may not be loopback, and nothing here routes
            # Service IPs (no kube-proxy): keep no endpoints for it.
            "--endpoint-reconciler-type=none",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={self.pki.ca.cert}",
            "--authorization-mode=Node,RBAC",
            # The default plugins (incl. ServiceAccount, PodSecurity, ValidatingAdmissionPolicy)
            # plus NodeRestriction, which a real cluster's node identity is always subject to.
            "--enable-admission-plugins=NodeRestriction",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={sa.cert}",
            f"--service-account-signing-key-file={sa.key}",
            f"--kubelet-client-certificate={kubelet_client.cert}",
            f"--kubelet-client-key={kubelet_client.key}",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            "--v=1",
        ]
        if self.audit:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(
                "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                "omitStages: [RequestReceived]\nrules:\n- level: Metadata\n"
            )
            args += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",  # every answered request is in the log when read
            ]
        return args

    def _component_args(self, binary: str, identity: str, port: int) -> list[str]:
        """What kube-controller-manager and kube-scheduler share: their identity (also for
        delegated authn/authz of their own endpoints), a loopback port, no leader election."""
        config = self.client_kubeconfig(identity)
        return [
            str(self.bin_dir / binary),
            f"--kubeconfig={config}",
            f"--authentication-kubeconfig={config}",
            f"--authorization-kubeconfig={config}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--leader-elect=false",
            "--v=1",
        ]

    def _controller_manager_args(self, port: int) -> list[str]:
        sa = self.pki.directory / "sa.key"
        return [
            *self._component_args(
                "kube-controller-manager", "system:kube-controller-manager", port
            ),
            "--controllers=*",
            "--use-service-account-credentials",
            f"--service-account-private-key-file={sa}",
            f"--root-ca-file={self.pki.ca.cert}",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
        ]

    def _scheduler_args(self, port: int) -> list[str]:
        return self._component_args("kube-scheduler", "system:kube-scheduler", port)

    def _launch(self, component: Component) -> None:
        component.log_path = self.logs / f"{component.name}.log"
        self._spawn(component)
        self.components.append(component)
        self._wait_healthy(component)

    def _spawn(self, component: Component) -> None:
        assert component.log_path is not None
        with component.log_path.open("ab") as log:
            component.process = subprocess.Popen(
                component.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **self.env} if self.env else None,
                preexec_fn=_die_with_parent,
            )

    def _wait_healthy(self, component: Component) -> None:
        https = component.health_url.startswith("https")
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert)) if https else None
        if context is not None:
            context.load_cert_chain(str(self.admin.cert), str(self.admin.key))
            if not component.health_url.startswith(self.server):
                # kube-controller-manager and kube-scheduler serve a self-signed certificate.
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        url = component.health_url
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        last = ""
        assert component.process is not None
        while time.monotonic() < deadline:
            if component.process.poll() is not None:
                raise ControlPlaneError(
                    f"{component.name} exited with code {component.process.returncode} while "
                    f"starting; last lines of {component.log_path}:\n{self._tail(component)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.25)
        raise ControlPlaneError(
            f"{component.name} was not healthy at {url} after {START_TIMEOUT_SECONDS:.0f}s "
            f"(last: {last}); last lines of {component.log_path}:\n{self._tail(component)}"
        )

    @staticmethod
    def _tail(component: Component, lines: int = 30) -> str:
        if component.log_path is None or not component.log_path.exists():
            return "(no log)"
        return "\n".join(component.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM in reverse start order, SIGKILL after the grace period; etcd's data removed."""
        for component in reversed(self.components):
            process = component.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.components.clear()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.components if c.process is not None}

    # --- one component: stop, start again, restart (fault tests) ------------------------------

    def component(self, name: str) -> Component:
        """The started component `name`: "etcd", "kube-apiserver", "kube-controller-manager",
        "kube-scheduler" or "node-<node name>"."""
        for component in self.components:
            if component.name == name:
                return component
        known = ", ".join(c.name for c in self.components) or "none"
        raise ControlPlaneError(f"no component {name!r} was started (started: {known})")

    def running(self, name: str) -> bool:
        process = self.component(name).process
        return process is not None and process.poll() is None

    def stop_component(
        self, name: str, how: signal.Signals = signal.SIGTERM, *, grace: float = STOP_GRACE_SECONDS
    ) -> int:
        """Stop one component and return its exit status (negative: the signal that ended it).

        `how` is SIGTERM (a graceful stop: SIGKILL only after `grace` seconds, as `stop()`
        does) or SIGKILL (a crash: no clean-up). Nothing else changes: etcd's data directory,
        the certificates, kubeconfigs and ports stay, and the component keeps its place in
        the start order, so `start_component(name)` brings back the same process and `stop()`
        still stops everything. Stopping a component that is not running is an error.
        """
        if how not in (signal.SIGTERM, signal.SIGKILL):
            raise ValueError(f"stop with SIGTERM or SIGKILL, not {how!r}")
        component = self.component(name)
        process = component.process
        if process is None or process.poll() is not None:
            raise ControlPlaneError(f"{name} is not running")
        process.send_signal(how)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return process.returncode

    def start_component(self, name: str, *, wait: bool = True) -> None:
        """Start a stopped component again with the same command line, environment, working
        directory, data and port (its log continues in the same file); with `wait`, until its
        health endpoint answers 200 again, as at the first start.

        For a node agent ("node-<name>") health is its Node object, which outlives the agent:
        that check passes at once, so wait for what the test needs (the Node's Ready condition,
        a renewed Lease) itself.
        """
        component = self.component(name)
        if component.process is not None and component.process.poll() is None:
            raise ControlPlaneError(f"{name} is still running (pid {component.process.pid})")
        self._spawn(component)
        if wait:
            self._wait_healthy(component)

    def wait_healthy(self, name: str) -> None:
        """Wait until the running component `name` answers 200 at its health endpoint (at most
        START_TIMEOUT_SECONDS), e.g. kube-apiserver's /readyz, which checks etcd, after etcd was
        started again: the API server's etcd client reconnects with a back-off, seconds later.
        """
        self._wait_healthy(self.component(name))

    def restart(
        self, name: str, how: signal.Signals = signal.SIGTERM, *, down_seconds: float = 0.0
    ) -> int:
        """`stop_component(name, how)`, `down_seconds` of outage, `start_component(name)`;
        returns the exit status of the stopped process."""
        code = self.stop_component(name, how)
        time.sleep(down_seconds)
        self.start_component(name)
        return code
