"""The node: runs each Pod's containers as local processes and reports their status.

It reads and writes the cluster through a `NodeAPI` (kubelet_api.py): in the sandbox, the store
in process (one node, `sandbox-node`, takes and binds every pod: there is no scheduler); as the
node agent (node_agent.py), any API server through a kubeconfig, running the pods the real
scheduler binds to its node. For each pod the kubelet: materialises its volumes
(kubelet_volumes), resolves each container's image, command and environment (kubelet_spec),
then starts init containers one by one and the containers
together, each in its own process group. It reports phases, container states, exit codes and
termination messages in the pod's status, restarts containers per restartPolicy (with the
kubelet's 10s..5m back-off on its clock), fails a pod that outlives its activeDeadlineSeconds
(DeadlineExceeded), keeps the logs for `pods/log`, and stops the processes when the pod is
deleted (SIGTERM, SIGKILL after the grace period; then it completes the graceful deletion) or
the node stops (nothing outlives it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .clock import Clock, Timers
from .controllers.base import WorkQueue
from .kubelet_api import NodeAPI
from .kubelet_spec import (
    ContainerConfigError,
    ImageRule,
    PathMap,
    command_line,
    find_executable,
    find_image,
    resolve_env,
    termination_message,
)
from .kubelet_volumes import MountError, materialise
from .meta import parse_rfc3339, rfc3339

log = logging.getLogger(__name__)

POD_IP = "127.0.0.1"  # pods share the host's network
COMPONENT = "kubelet"
BACKOFF_START, BACKOFF_MAX = 10.0, 300.0
STOP_GRACE_SECONDS = 2.0  # real seconds processes get at sandbox shutdown before SIGKILL


def _die_with_parent() -> None:
    """In the child: SIGKILL it if the sandbox process dies without cleaning up (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Container:
    """One container of a running pod: its process and what the status reports about it."""

    spec: dict[str, Any]
    init: bool
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = Path("/")
    message_file: Path = Path("/dev/null")
    log_dir: Path = Path("/dev/null")
    process: asyncio.subprocess.Process | None = None
    state: dict[str, Any] = field(default_factory=dict)
    last_state: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    log_changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    def log_file(self, attempt: int | None = None) -> Path:
        return self.log_dir / f"{self.restarts if attempt is None else attempt}.log"

    @property
    def terminated(self) -> dict[str, Any] | None:
        return self.state.get("terminated")

    def notify(self) -> None:
        self.log_changed.set()
        self.log_changed = asyncio.Event()


@dataclass
class PodRuntime:
    uid: str
    namespace: str
    name: str
    directory: Path
    containers: list[Container] = field(default_factory=list)
    started: bool = False
    stopping: bool = False
    start_time: str = ""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    deadline_exceeded: bool = False
    spawned: asyncio.Event = field(default_factory=asyncio.Event)  # its first process started

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


class Kubelet:
    def __init__(
        self,
        api: NodeAPI,
        clock: Clock,
        timers: Timers,
        images: list[ImageRule],
        state_dir: Path,
    ) -> None:
        self.api = api
        self.clock = clock
        self.timers = timers
        self.images = images
        self.state_dir = state_dir
        self.runtimes: dict[str, PodRuntime] = {}  # pod uid -> runtime
        self.waiting: dict[str, tuple[str, str]] = {}  # pod uid -> key, for pods blocked on config
        self.mount_errors: dict[str, str] = {}  # pod uid -> the FailedMount last reported
        self.queue = WorkQueue("kubelet", self._sync)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.api.subscribe(self._on_pod, self._on_reference)
        self.queue.start()
        for pod in self.api.pods():
            self.queue.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    async def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and wait for them: nothing outlives us."""
        self.api.unsubscribe()
        await self.queue.stop()
        runtimes = list(self.runtimes.values())
        for rt in runtimes:
            self._signal_all(rt, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        for rt in runtimes:
            for c in rt.containers:
                if c.process and c.process.returncode is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(c.process.wait(), max(0.0, deadline - loop.time()))
            self._signal_all(rt, signal.SIGKILL)
            for c in rt.containers:
                if c.process:
                    await c.process.wait()
            for task in list(rt.tasks):
                task.cancel()
            await asyncio.gather(*rt.tasks, return_exceptions=True)
        self.runtimes.clear()

    async def crash(self) -> None:
        """As if the agent's process were SIGKILLed: nothing more is reported, and its pods'
        processes die with it (PR_SET_PDEATHSIG). ``start`` again is the agent restarted."""
        self.api.unsubscribe()
        await self.queue.stop()
        runtimes = list(self.runtimes.values())
        for rt in runtimes:  # first, so that no status of the dying processes is written
            for task in list(rt.tasks):
                task.cancel()
            await asyncio.gather(*rt.tasks, return_exceptions=True)
        for rt in runtimes:
            self._signal_all(rt, signal.SIGKILL)
            for c in rt.containers:
                if c.process:
                    await c.process.wait()
        self.runtimes.clear()

    async def wait_for_spawns(self) -> None:
        """Wait until every pod being started has its first process running (or failed)."""
        for rt in list(self.runtimes.values()):
            await rt.spawned.wait()

    def process_ids(self) -> list[int]:
        """Process (and process group) ids of every container process started so far and alive."""
        return [
            c.process.pid
            for rt in self.runtimes.values()
            for c in rt.containers
            if c.process is not None and c.process.returncode is None
        ]

    # --- events --------------------------------------------------------------------------

    def _on_pod(self, type_: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if type_ == "DELETED":
            rt = self.runtimes.get(meta["uid"])
            if rt is not None:
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                self._terminate(rt, float(grace))
            self.waiting.pop(meta["uid"], None)
            self.mount_errors.pop(meta["uid"], None)
        else:
            self.queue.add((meta["namespace"], meta["name"]))

    def _on_reference(self, namespace: str | None) -> None:
        """A Secret, ConfigMap or claim may have appeared: retry the pods waiting for one."""
        for key in list(self.waiting.values()):
            if namespace is None or key[0] == namespace:
                self.queue.add(key)

    # --- reconcile -------------------------------------------------------------------------

    def _now(self) -> str:
        return rfc3339(self.clock.now())

    def _lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.api.lookup(kind, namespace, name)

    async def _sync(self, key: tuple[str, str]) -> None:
        pod = self.api.pod(*key)
        if pod is None:
            return
        uid = pod["metadata"]["uid"]
        if pod["metadata"].get("deletionTimestamp"):
            rt = self.runtimes.get(uid)
            if rt is not None:
                self._terminate(rt, float(pod["spec"].get("terminationGracePeriodSeconds", 30)))
            else:
                self.waiting.pop(uid, None)
                await self.api.finish_deletion(pod)  # nothing of it runs here
            return
        phase = (pod.get("status") or {}).get("phase")
        if uid in self.runtimes or phase in ("Succeeded", "Failed"):
            return
        if phase == "Running" and pod["spec"].get("nodeName") == self.api.node_name:
            # Started here before this agent (re)started: its processes died with the previous
            # agent (they are stopped with it, or die with it: PR_SET_PDEATHSIG). Reported as a
            # kubelet reports containers it cannot find; the Job controller makes a new pod.
            await self._write_status(pod, _lost_status(pod, self._now()))
            return
        if not pod["spec"].get("nodeName"):
            pod = await self.api.bind(pod)
        elif pod["spec"]["nodeName"] != self.api.node_name:
            return
        await self.api.fetch_references(pod)
        blocked = await self._blocked(pod)
        if blocked:
            self.waiting[uid] = key
            return
        self.waiting.pop(uid, None)
        await self._start(pod)

    async def _blocked(self, pod: dict[str, Any]) -> bool:
        """Report why the pod cannot start yet (missing claim, image, config); True if so."""
        ns = pod["metadata"]["namespace"]
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and self._lookup("PersistentVolumeClaim", ns, claim) is None:
                message = f'0/1 nodes are available: persistentvolumeclaim "{claim}" not found.'
                await self._write_status(
                    pod, _pending_status(pod, self._now(), unschedulable=message)
                )
                return True
        waiting: dict[str, dict[str, str]] = {}
        for spec in _all_containers(pod):
            image = spec.get("image", "")
            if find_image(self.images, image) is None:
                waiting[spec["name"]] = {
                    "reason": "ErrImagePull",
                    "message": (
                        f'Failed to pull image "{image}": the sandbox has no image rule '
                        f'for "{image}" (see sandbox/README.md, "Workloads")'
                    ),
                }
                continue
            try:
                resolve_env(spec, pod, self._lookup)
            except ContainerConfigError as e:
                waiting[spec["name"]] = {"reason": "CreateContainerConfigError", "message": str(e)}
        if not waiting:
            return False
        status = _pending_status(pod, self._now(), waiting=waiting)
        if status != pod.get("status"):
            for why in waiting.values():
                await self.api.record(
                    pod,
                    "Warning",
                    "Failed",
                    f"Error: {why['message']}"
                    if why["reason"] != "ErrImagePull"
                    else why["message"],
                    COMPONENT,
                )
        await self._write_status(pod, status)
        return True

    async def _start(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        rt = PodRuntime(
            meta["uid"], meta["namespace"], meta["name"], self.state_dir / "pods" / meta["uid"]
        )
        try:
            volumes = materialise(pod, rt.directory, self.state_dir, self._lookup)
        except MountError as e:
            shutil.rmtree(rt.directory, ignore_errors=True)
            self.waiting[meta["uid"]] = (meta["namespace"], meta["name"])
            if self.mount_errors.get(meta["uid"]) != str(e):  # once per cause, not per retry
                self.mount_errors[meta["uid"]] = str(e)
                await self.api.record(pod, "Warning", "FailedMount", str(e), COMPONENT)
            waiting = {c["name"]: {"reason": "ContainerCreating"} for c in _all_containers(pod)}
            await self._write_status(pod, _pending_status(pod, self._now(), waiting=waiting))
            return
        self.mount_errors.pop(rt.uid, None)
        self.runtimes[rt.uid] = rt
        rt.start_time = (pod.get("status") or {}).get("startTime") or rfc3339(self.clock.now())
        self._watch_deadline(rt, pod)
        for spec in pod["spec"].get("initContainers") or []:
            rt.containers.append(self._prepare(pod, rt, spec, volumes, init=True))
        for spec in pod["spec"].get("containers") or []:
            rt.containers.append(self._prepare(pod, rt, spec, volumes, init=False))
        self._spawn_task(rt, self._run_pod(rt))

    def _prepare(
        self,
        pod: dict[str, Any],
        rt: PodRuntime,
        spec: dict[str, Any],
        volumes: dict[str, Path],
        init: bool,
    ) -> Container:
        image = find_image(self.images, spec.get("image", ""))
        assert image is not None  # checked by _blocked
        c = Container(
            spec=spec,
            init=init,
            state={"waiting": {"reason": "PodInitializing" if not init else "ContainerCreating"}},
        )
        base = rt.directory / "containers" / c.name
        c.log_dir = base / "logs"
        c.log_dir.mkdir(parents=True, exist_ok=True)
        c.message_file = base / "termination-log"
        c.message_file.touch()
        home = base / "home"
        home.mkdir(exist_ok=True)
        mounts: dict[str, Path] = {}
        for mount in spec.get("volumeMounts") or []:
            host = volumes.get(mount.get("name", ""))
            if host is not None:
                sub = mount.get("subPath") or ""
                target = host / sub if sub else host
                if not target.is_file():
                    target.mkdir(parents=True, exist_ok=True)
                mounts[mount["mountPath"]] = target
        mounts[spec.get("terminationMessagePath") or "/dev/termination-log"] = c.message_file
        paths = PathMap(mounts)
        base_env = {
            "PATH": os.pathsep.join([*image.path, os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOSTNAME": rt.name,
            "HOME": str(home),
            **image.env,
        }
        env = resolve_env(spec, pod, self._lookup, base=base_env)
        # Only what the pod declares names container paths; the image's own environment (PATH,
        # HOME) holds host paths already, which may happen to lie under a mount such as /tmp.
        c.env = {k: v if base_env.get(k) == v else paths.rewrite(v) for k, v in env.items()}
        c.argv = command_line(spec, image, env, paths.rewrite)
        working_dir = spec.get("workingDir") or image.working_dir
        if working_dir and paths.covers(working_dir):
            c.cwd = paths.host(working_dir)
        else:
            c.cwd = rt.directory / "rootfs" / (working_dir or "/").lstrip("/")
        c.cwd.mkdir(parents=True, exist_ok=True)
        return c

    def _spawn_task(self, rt: PodRuntime, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        rt.tasks.add(task)
        task.add_done_callback(rt.tasks.discard)

    # --- running -------------------------------------------------------------------------------

    async def _run_pod(self, rt: PodRuntime) -> None:
        try:
            await self._run_containers(rt)
        finally:
            rt.spawned.set()

    async def _run_containers(self, rt: PodRuntime) -> None:
        for c in [c for c in rt.containers if c.init]:
            while True:
                await self._run_container(rt, c)
                if (
                    rt.stopping
                    or _exit_code(c) == 0
                    or not await self._restart_after_backoff(rt, c)
                ):
                    break
            if rt.stopping or _exit_code(c) != 0:
                await self._publish(rt)
                return
        main = [c for c in rt.containers if not c.init]
        await asyncio.gather(*(self._run_with_restarts(rt, c) for c in main))
        await self._publish(rt)

    async def _run_with_restarts(self, rt: PodRuntime, c: Container) -> None:
        while True:
            await self._run_container(rt, c)
            if rt.stopping or not await self._restart_after_backoff(rt, c):
                return

    async def _restart_after_backoff(self, rt: PodRuntime, c: Container) -> bool:
        policy = self._pod_spec(rt).get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and _exit_code(c) == 0):
            return False
        delay = min(BACKOFF_START * 2**c.restarts, BACKOFF_MAX)
        c.last_state = {"terminated": c.state["terminated"]}
        c.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": (
                    f"back-off {int(delay)}s restarting failed container={c.name} "
                    f"pod={rt.name}_{rt.namespace}({rt.uid})"
                ),
            }
        }
        await self._publish(rt)
        due = asyncio.get_running_loop().create_future()
        self.timers.at(
            self.clock.now() + timedelta(seconds=delay), lambda: due.done() or due.set_result(None)
        )
        await due
        if rt.stopping:
            return False
        c.restarts += 1
        return True

    def _pod_spec(self, rt: PodRuntime) -> dict[str, Any]:
        pod = self.api.pod(rt.namespace, rt.name)
        return (pod or {}).get("spec") or {}

    async def _run_container(self, rt: PodRuntime, c: Container) -> None:
        started = rfc3339(self.clock.now())
        container_id = f"sandbox://{rt.uid[:8]}-{c.name}-{c.restarts}"
        executable = find_executable(c.argv[0], c.env["PATH"].split(os.pathsep)) if c.argv else None
        c.message_file.write_text("")
        if executable is None:
            what = c.argv[0] if c.argv else "(no command)"
            c.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": (
                        f'failed to create containerd task: exec: "{what}": executable '
                        "file not found in $PATH"
                    ),
                    "startedAt": started,
                    "finishedAt": started,
                    "containerID": container_id,
                }
            }
            await self.api.record(
                self._pod_or_stub(rt),
                "Warning",
                "Failed",
                f"Error: {c.state['terminated']['message']}",
                COMPONENT,
            )
            rt.spawned.set()
            await self._publish(rt)
            return
        log_file = c.log_file()
        with log_file.open("ab") as sink:
            c.process = await asyncio.create_subprocess_exec(
                executable, *c.argv[1:], env=c.env, cwd=c.cwd, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
            c.state = {"running": {"startedAt": started}}
            rt.spawned.set()
            await self.api.record(
                self._pod_or_stub(rt), "Normal", "Started", f"Started container {c.name}", COMPONENT
            )
            await self._publish(rt)
            assert c.process.stdout is not None
            pump = asyncio.ensure_future(self._pump(c, c.process.stdout, sink))
            code = await c.process.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(c.process.pid, signal.SIGKILL)  # the container's other processes go too
            await pump
        exit_code = 128 - code if code < 0 else code
        text = c.message_file.read_text(errors="replace") if c.message_file.exists() else ""
        tail = log_file.read_text(errors="replace").splitlines(keepends=True)
        lines = [line.split(" ", 1)[1] if " " in line else line for line in tail]
        policy = c.spec.get("terminationMessagePolicy", "File")
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": started,
            "finishedAt": rfc3339(self.clock.now()),
            "containerID": container_id,
        }
        message = termination_message(text, lines, policy, exit_code)
        if message:
            terminated["message"] = message
        c.state = {"terminated": terminated}
        c.notify()
        await self._publish(rt)

    async def _pump(self, c: Container, stream: asyncio.StreamReader, sink: Any) -> None:
        """Copy output into the log file, one timestamped line at a time (the CRI log format)."""
        while True:
            line = await stream.readline()
            if not line:
                return
            if not line.endswith(b"\n"):
                line += b"\n"
            stamp = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            sink.write(stamp.encode() + b" " + line)
            sink.flush()
            c.notify()

    # --- stopping ---------------------------------------------------------------------------

    def _watch_deadline(self, rt: PodRuntime, pod: dict[str, Any]) -> None:
        """activeDeadlineSeconds counts from the pod's start; past it the pod fails."""
        seconds = pod["spec"].get("activeDeadlineSeconds")
        if not seconds:
            return
        due = parse_rfc3339(rt.start_time) + timedelta(seconds=int(seconds))

        def expire() -> None:
            if rt.uid in self.runtimes and not rt.stopping:
                rt.deadline_exceeded = True
                self._terminate(rt, float(pod["spec"].get("terminationGracePeriodSeconds", 30)))
                self.queue.add((rt.namespace, rt.name))

        self.timers.at(due, expire)

    def _terminate(self, rt: PodRuntime, grace: float) -> None:
        if rt.stopping:
            return
        rt.stopping = True
        self._signal_all(rt, signal.SIGTERM)

        def kill() -> None:
            self._signal_all(rt, signal.SIGKILL)

        self.timers.at(self.clock.now() + timedelta(seconds=grace), kill)
        asyncio.get_running_loop().call_later(grace, kill)
        self._spawn_task(rt, self._reap(rt))

    async def _reap(self, rt: PodRuntime) -> None:
        for c in rt.containers:
            if c.process is not None:
                await c.process.wait()
            c.notify()
        for task in [t for t in rt.tasks if t is not asyncio.current_task()]:
            task.cancel()
        pod = self.api.pod(rt.namespace, rt.name)
        if rt.deadline_exceeded and pod is not None and pod["metadata"]["uid"] == rt.uid:
            await self.api.write_status(pod, _deadline_status(pod, rt, self._now()))
        self.runtimes.pop(rt.uid, None)
        shutil.rmtree(rt.directory, ignore_errors=True)
        deleted = pod is not None and pod["metadata"].get("deletionTimestamp")
        if deleted and pod is not None and pod["metadata"]["uid"] == rt.uid:
            await self.api.finish_deletion(pod)

    @staticmethod
    def _signal_all(rt: PodRuntime, sig: int) -> None:
        for c in rt.containers:
            if c.process is not None and c.process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.process.pid, sig)

    # --- status -----------------------------------------------------------------------------

    def _pod_or_stub(self, rt: PodRuntime) -> dict[str, Any]:
        pod = self.api.pod(rt.namespace, rt.name)
        if pod is not None and pod["metadata"]["uid"] == rt.uid:
            return pod
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": rt.name, "namespace": rt.namespace, "uid": rt.uid},
        }

    async def _publish(self, rt: PodRuntime) -> None:
        pod = self.api.pod(rt.namespace, rt.name)
        if pod is None or pod["metadata"]["uid"] != rt.uid or rt.deadline_exceeded:
            return
        await self._write_status(pod, _running_status(pod, rt, self._now()))

    async def _write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        if status != pod.get("status"):
            await self.api.write_status(pod, status)


# --- status builders (pure) ------------------------------------------------------------------


def _all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _exit_code(c: Container) -> int | None:
    return c.terminated["exitCode"] if c.terminated else None


def _condition(
    type_: str, status: bool, now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": type_,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _keep_transitions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A condition's lastTransitionTime changes only when its status does."""
    before = {c["type"]: c for c in old}
    out = []
    for cond in new:
        prior = before.get(cond["type"])
        if prior is not None and prior.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": prior.get("lastTransitionTime")}
        out.append(cond)
    return out


def _pending_status(
    pod: dict[str, Any],
    now: str,
    *,
    waiting: dict[str, dict[str, str]] | None = None,
    unschedulable: str = "",
) -> dict[str, Any]:
    old = pod.get("status") or {}
    status: dict[str, Any] = {"phase": "Pending", "qosClass": old.get("qosClass", "BestEffort")}
    if unschedulable:
        status["conditions"] = _keep_transitions(
            old.get("conditions") or [],
            [_condition("PodScheduled", False, now, "Unschedulable", unschedulable)],
        )
        return status
    spec = pod["spec"]
    init_names = {c["name"] for c in spec.get("initContainers") or []}
    reason = "PodInitializing" if init_names else "ContainersNotReady"
    status.update(
        {"hostIP": POD_IP, "hostIPs": [{"ip": POD_IP}], "startTime": old.get("startTime") or now}
    )
    names = [c["name"] for c in spec.get("containers") or []]
    status["conditions"] = _keep_transitions(
        old.get("conditions") or [],
        [
            _condition("PodReadyToStartContainers", False, now),
            _condition(
                "Initialized",
                not init_names,
                now,
                "" if not init_names else "ContainersNotInitialized",
            ),
            _condition(
                "Ready", False, now, reason, f"containers with unready status: [{' '.join(names)}]"
            ),
            _condition(
                "ContainersReady",
                False,
                now,
                reason,
                f"containers with unready status: [{' '.join(names)}]",
            ),
            _condition("PodScheduled", True, now),
        ],
    )
    waiting = waiting or {}

    def entry(c: dict[str, Any]) -> dict[str, Any]:
        why = waiting.get(c["name"], {"reason": "ContainerCreating"})
        return {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": {"waiting": why},
        }

    if spec.get("initContainers"):
        status["initContainerStatuses"] = [entry(c) for c in spec["initContainers"]]
    status["containerStatuses"] = [entry(c) for c in spec.get("containers") or []]
    return status


def _deadline_status(pod: dict[str, Any], rt: PodRuntime, now: str) -> dict[str, Any]:
    """A pod stopped by the kubelet for outliving activeDeadlineSeconds, as a kubelet reports it."""
    status = _running_status(pod, rt, now)
    status["phase"] = "Failed"
    status["reason"] = "DeadlineExceeded"
    status["message"] = "Pod was active on the node longer than the specified deadline"
    return status


LOST_REASON = "ContainerStatusUnknown"
LOST_MESSAGE = "The container could not be located when the pod was terminated"


def _lost_status(pod: dict[str, Any], now: str) -> dict[str, Any]:
    """A running pod whose containers are gone (the node agent restarted): Failed, each
    container terminated with the reason, message and exit code 137 a kubelet gives them."""
    old = pod.get("status") or {}

    def lost(entry: dict[str, Any]) -> dict[str, Any]:
        running = (entry.get("state") or {}).get("running") or {}
        terminated = {
            "exitCode": 137,
            "reason": LOST_REASON,
            "message": LOST_MESSAGE,
            "startedAt": running.get("startedAt"),
            "finishedAt": now,
        }
        return entry | {"ready": False, "started": False, "state": {"terminated": terminated}}

    conditions = [
        _condition("PodReadyToStartContainers", False, now),
        _condition("Ready", False, now, "PodCompleted"),
        _condition("ContainersReady", False, now, "PodCompleted"),
    ]
    return old | {
        "phase": "Failed",
        "conditions": _keep_transitions(old.get("conditions") or [], conditions),
        "containerStatuses": [lost(e) for e in old.get("containerStatuses") or []],
    }


def _running_status(pod: dict[str, Any], rt: PodRuntime, now: str) -> dict[str, Any]:
    old = pod.get("status") or {}
    restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
    inits = [c for c in rt.containers if c.init]
    mains = [c for c in rt.containers if not c.init]
    init_failed = any(
        c.terminated and c.terminated["exitCode"] != 0 and restart == "Never" for c in inits
    )
    initialized = all(c.terminated and c.terminated["exitCode"] == 0 for c in inits)

    def done(c: Container) -> bool:
        t = c.terminated
        return t is not None and (
            restart == "Never" or (restart == "OnFailure" and t["exitCode"] == 0)
        )

    if init_failed or (
        initialized
        and mains
        and all(done(c) for c in mains)
        and any(c.terminated and c.terminated["exitCode"] != 0 for c in mains)
    ):
        phase = "Failed"
    elif initialized and mains and all(done(c) for c in mains):
        phase = "Succeeded"
    elif initialized and any("running" in c.state or c.restarts or c.terminated for c in mains):
        phase = "Running"
    else:
        phase = "Pending"
    ready = phase == "Running" and all("running" in c.state for c in mains)
    unready = [c.name for c in mains if "running" not in c.state]
    why = (
        "PodCompleted"
        if phase in ("Succeeded", "Failed")
        else ("ContainersNotReady" if initialized else "PodInitializing")
    )
    message = (
        ""
        if ready or phase in ("Succeeded", "Failed")
        else f"containers with unready status: [{' '.join(unready)}]"
    )
    stamp = now
    conditions = [
        _condition("PodReadyToStartContainers", phase in ("Pending", "Running"), stamp),
        _condition(
            "Initialized", initialized, stamp, "" if initialized else "ContainersNotInitialized"
        ),
        _condition("Ready", ready, stamp, "" if ready else why, message),
        _condition("ContainersReady", ready, stamp, "" if ready else why, message),
        _condition("PodScheduled", True, stamp),
    ]

    def entry(c: Container) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": c.name,
            "image": c.spec.get("image", ""),
            "imageID": f"sandbox://{c.spec.get('image', '')}",
            "ready": "running" in c.state and not c.init,
            "restartCount": c.restarts,
            "started": "running" in c.state,
            "state": c.state,
            "lastState": c.last_state,
        }
        if "terminated" in c.state or "running" in c.state:
            out["containerID"] = (
                c.state.get("terminated", {}).get("containerID")
                or f"sandbox://{rt.uid[:8]}-{c.name}-{c.restarts}"
            )
        return out

    status: dict[str, Any] = {
        "phase": phase,
        "conditions": _keep_transitions(old.get("conditions") or [], conditions),
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "startTime": old.get("startTime") or rt.start_time,
        "qosClass": old.get("qosClass", "BestEffort"),
        "containerStatuses": [entry(c) for c in mains],
    }
    if inits:
        status["initContainerStatuses"] = [entry(c) for c in inits]
    return status
