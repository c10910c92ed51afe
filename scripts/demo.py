"""`make demo`: the whole chain on the local API sandbox, no cluster needed.

1. A local Radicale serves the bundled sample calendars (examples/demo/calendars/).
2. The sandbox starts with the CRDs and an accelerated clock set just before 23:59 London time;
   the operator runs under kopf against it.
3. ArchiveSchedules for two users (examples/demo/schedules.yaml): alice's nightly 23:59 run fires
   within seconds; bob gets a manual run for the past week.
4. The result is shown with kubectl get, the plugin (kubectl archive) and kubectl describe, every
   time and age by the sandbox's clock; the plugin is put on PATH, and --keep prints the
   `export PATH=...` and `export KUBECONFIG=...` lines for another shell.

Every run starts from a clean state: it first removes what an earlier run left in the workdir
(Radicale's storage, the sandbox state, the logs and the kubeconfig; nothing else there is
touched), so it works any number of times in a row. With --keep everything stays up to explore
with kubectl and `kubectl archive` until Ctrl-C or SIGTERM (the PID is printed); otherwise it is
stopped. Either way the kubeconfig stays at the same path (<workdir>/kubeconfig), so an
`export KUBECONFIG=...` from one run is right for the next --keep run. Every exit path (the
end, a failure, SIGINT, SIGTERM, SIGHUP) stops Radicale, the sandbox and the operator; on Linux
they also get SIGTERM should this process be killed outright.

When a step fails, the demo prints the cause: the ArchiveRuns' status and errors, the tail of
the runner pods' logs, and the warnings and errors in the logs it keeps in the workdir.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import click
import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = ROOT / "examples" / "demo"
USERS = {"alice": "alice-demo", "bob": "bob-demo"}
CLOCK_SPEED = 6  # sandbox seconds per real second: 23:58:30 → 23:59 in 5 s
# What a run leaves in the workdir, removed when the next one starts: nothing else is touched.
STATE = ("radicale", "sandbox-state", "kubeconfig", "radicale.log", "sandbox.log", "operator.log")
FINISHED = ("Succeeded", "PartiallySucceeded", "Failed", "Skipped")  # an ArchiveRun's end phases
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A log line worth showing when the demo fails: warnings, errors, HTTP answers 4xx/5xx.
TROUBLE = re.compile(
    r"WARNING|ERROR|CRITICAL|Traceback|Exception|\b[A-Za-z]*Error\b|seconds[^:]*: [45]\d\d\b"
)
NOT_TROUBLE = re.compile(r"Logging level set to")


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP: unwinds like KeyboardInterrupt, so every child is stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` (Python's default for SIGTERM and
    SIGHUP ends the process at once, without running any clean-up). Once one has arrived the
    others are ignored, so a second Ctrl-C cannot cut the stopping of the children short."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """For Popen(preexec_fn=...): on Linux the child gets SIGTERM when the demo dies, even by
    SIGKILL, when no clean-up can run."""
    if not sys.platform.startswith("linux"):
        return None

    prctl, pr_set_pdeathsig = ctypes.CDLL(None, use_errno=True).prctl, 1

    def setup() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the demo died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


def reset_workdir(work: Path) -> None:
    """Remove what an earlier run left in `work` (STATE), so this one starts clean.

    Radicale's storage must go: the demo picks a new port each time, so the source URL — and
    the runner's identity for each archived copy — changes, and the runner's new copies of the
    same events would collide with the old ones (HTTP 409 from Radicale)."""
    for name in STATE:
        path = work / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.kubeconfig = work / "kubeconfig"
        self.env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "NO_COLOR": "1",
            # kubectl finds the plugin (kubectl-archive, a console script of the venv) on PATH.
            "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
        }
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.logs: list[str] = []  # names of the children whose output is in <work>/<name>.log
        self.failing = False
        self.kept_up = False  # --keep: the chain was shown, now waiting to be stopped

    def step(self, text: str) -> None:
        click.secho(f"\n==> {text}", bold=True)

    @contextmanager
    def background(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> Iterator[subprocess.Popen[str]]:
        """A child process whose output goes to <work>/<name>.log; stopped on exit.

        It runs in a session of its own, so a Ctrl-C reaches only the demo, which then stops
        its children in order (operator, sandbox, Radicale) instead of all at once."""
        with (self.work / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(
                argv,
                env=env or self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=ROOT,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
            self.procs[name] = proc
            if name not in self.logs:
                self.logs.append(name)
            try:
                yield proc
            finally:
                self.stop(name)

    def stop(self, name: str) -> None:
        """SIGTERM, SIGKILL after 10 s; forgotten only once gone, so stop_all can retry."""
        proc = self.procs.get(name)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        del self.procs[name]

    def stop_all(self) -> None:
        """The safety net: whatever is still running, newest first."""
        for name in reversed(list(self.procs)):
            self.stop(name)

    def check_children(self, what: str) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                self.fail(f"{name} exited with {proc.returncode} {what}")

    def wait_for(self, what: str, check: Callable[[], object], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children(f"waiting for {what}")
            if check():
                return
            time.sleep(0.2)
        self.fail(f"timed out after {timeout:.0f}s waiting for {what}")

    def fail(self, message: str) -> None:
        if not self.failing:  # a kubectl call made while explaining cannot fail again
            self.failing = True
            click.secho(f"demo failed: {message}", fg="red", err=True)
            self.explain()
        raise SystemExit(1)

    def explain(self) -> None:
        """Print what shows why the demo failed (stderr)."""
        sandbox = self.procs.get("sandbox")
        if sandbox is not None and sandbox.poll() is None and self.kubeconfig.exists():
            self._explain_cluster()
        for name in self.logs:
            path = self.work / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                click.echo(
                    f"--- {name} exited with {proc.returncode}; last lines of {path}:", err=True
                )
                shown = lines[-20:]
            else:
                trouble = [ln for ln in lines if TROUBLE.search(ln) and not NOT_TROUBLE.search(ln)]
                if trouble:
                    click.echo(f"--- warnings and errors in {path} (last 15):", err=True)
                    shown = trouble[-15:]
                else:
                    click.echo(f"--- no warnings or errors in {path}; its last lines:", err=True)
                    shown = lines[-3:]
            click.echo("\n".join(_clip(line) for line in shown), err=True)

    def _explain_cluster(self) -> None:
        table = self._kubectl("get", "archiveruns,jobs,pods", "-o", "wide")
        if table:
            click.echo("--- kubectl get archiveruns,jobs,pods -o wide:", err=True)
            click.echo(table.rstrip(), err=True)
        runs = json.loads(self._kubectl("get", "archiveruns", "-o", "json") or '{"items": []}')
        for run in runs["items"]:
            status = run.get("status", {})
            if status.get("phase") == "Succeeded":
                continue
            click.echo(
                f"--- ArchiveRun {run['metadata']['name']}: {status.get('phase', 'no phase yet')}"
                f" ({status.get('reason', '-')}): {status.get('message', '')}",
                err=True,
            )
            for error in status.get("errors", [])[:5]:
                click.echo(
                    f"    {error.get('uid', '?')}: {_clip(error.get('message', ''))}", err=True
                )
        pods = json.loads(self._kubectl("get", "pods", "-o", "json") or '{"items": []}')
        for pod in pods["items"]:
            if pod.get("status", {}).get("phase") == "Succeeded":
                continue
            name = pod["metadata"]["name"]
            logs = self._kubectl("logs", name, "--all-containers", "--tail=8")
            if logs:
                click.echo(f"--- kubectl logs {name} --tail=8:", err=True)
                click.echo("\n".join(_clip(line) for line in logs.splitlines()), err=True)

    def _kubectl(self, *args: str) -> str | None:
        """kubectl for explaining a failure: never fails itself."""
        try:
            result = subprocess.run(
                [str(BIN / "kubectl"), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout if result.returncode == 0 else None

    def kubectl(self, *args: str, show: bool = False, stdin: str | None = None) -> str:
        if show:
            click.secho("$ kubectl " + " ".join(args), fg="cyan")
        result = subprocess.run(
            [str(BIN / "kubectl"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            self.fail(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        if show:
            click.echo(result.stdout.rstrip())
        return result.stdout

    def run_phase(self, name: str) -> str | None:
        out = self.kubectl("get", "archiverun", name, "-o", "json", "--ignore-not-found")
        return json.loads(out).get("status", {}).get("phase") if out.strip() else None

    def runs(self) -> list[dict[str, Any]]:
        return list(json.loads(self.kubectl("get", "archiveruns", "-o", "json"))["items"])


def _clip(line: str, width: int = 400) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def radicale_config(work: Path, port: int) -> Path:
    storage, users = work / "radicale" / "storage", work / "radicale" / "users"
    storage.mkdir(parents=True, exist_ok=True)
    users.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    config = work / "radicale" / "config"
    # level info: every request's answer is logged, so a failure can show e.g. a 409
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
        f"htpasswd_filename = {users}\nhtpasswd_encryption = plain\ndelay = 0\n"
        f"[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = {storage}\n"
        "[web]\ntype = none\n[logging]\nlevel = info\n"
    )
    return config


def seed_calendars(base: str) -> int:
    """Create each user's calendar and archive, and PUT the bundled events."""
    count = 0
    for user, password in USERS.items():
        with httpx.Client(auth=(user, password), timeout=30) as http:
            http.request("PROPFIND", f"{base}/{user}/", headers={"Depth": "0"})
            for name in ("calendar", "archive"):
                http.request("MKCALENDAR", f"{base}/{user}/{name}/")
            for path in sorted((DEMO / "calendars" / user).glob("*.ics")):
                response = http.put(
                    f"{base}/{user}/calendar/{path.name}",
                    content=path.read_bytes(),
                    headers={"Content-Type": "text/calendar"},
                )
                response.raise_for_status()
                count += 1
    return count


def clock_start() -> datetime:
    """Today 23:58:30 in London, so alice's nightly 23:59 fires a few seconds in."""
    london = ZoneInfo("Europe/London")
    today = datetime.now(london).date()
    return datetime(today.year, today.month, today.day, 23, 58, 30, tzinfo=london)


@click.command()
@click.option("--keep", is_flag=True, help="Stay up after the demo, to explore with kubectl.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=ROOT / ".demo",
    show_default=True,
    help="Where logs, the kubeconfig and Radicale's storage go (reset at every start).",
)
def main(keep: bool, workdir: Path) -> None:
    """Run the demo on the sandbox."""
    workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(workdir.resolve())
    with stop_on_signals():
        try:
            reset_workdir(demo.work)
            click.echo(
                f"demo running as PID {os.getpid()} (Ctrl-C or `kill {os.getpid()}` stops it)"
            )
            run(demo, keep)
        except Interrupted as stop:
            demo.stop_all()  # before the message: "everything stopped" must be true
            if not demo.kept_up:  # stopping a --keep demo is its normal end
                click.secho(
                    f"\ndemo interrupted by {stop.name}: everything stopped (logs in {demo.work}).",
                    fg="red",
                    err=True,
                )
                raise SystemExit(128 + stop.signum) from None
            click.echo(f"\nStopped by {stop.name}.")
        finally:
            for sig in STOP_SIGNALS:  # nothing may cut the last clean-up short
                signal.signal(sig, signal.SIG_IGN)
            demo.stop_all()
    if not keep:
        explore(demo, keep=False)
    demo.step(f"Done: everything stopped (logs in {demo.work}).")


def run(demo: Demo, keep: bool) -> None:
    """Start everything and show the chain; with `keep`, then wait for a signal."""
    demo.step("Serving the sample calendars (examples/demo/calendars) with a local Radicale")
    port = free_port()
    caldav = f"http://127.0.0.1:{port}"
    radicale = [sys.executable, "-m", "radicale", "--config", str(radicale_config(demo.work, port))]
    with demo.background("radicale", radicale):
        demo.wait_for("Radicale", lambda: _listening(port), 30)
        click.echo(f"{seed_calendars(caldav)} events for alice and bob at {caldav}")

        start = clock_start()
        demo.step(
            f"Starting the Kubernetes API sandbox, clock at {start:%Y-%m-%d %H:%M:%S %Z} "
            f"running x{CLOCK_SPEED}"
        )
        sandbox_env = {
            **demo.env,
            "ARCHIVE_SANDBOX_CLOCK_START": start.astimezone(UTC).isoformat(),
            "ARCHIVE_SANDBOX_CLOCK_SPEED": str(CLOCK_SPEED),
            "ARCHIVE_SANDBOX_STATE_DIR": str(demo.work / "sandbox-state"),
        }
        sandbox_argv = [
            str(BIN / "archive-sandbox"), "serve", "--kubeconfig", str(demo.kubeconfig),
            "--crds", "crds",
        ]  # fmt: skip
        with demo.background("sandbox", sandbox_argv, sandbox_env):
            demo.wait_for("the sandbox", demo.kubeconfig.exists, 30)

            demo.step("Running the operator (real kopf) against it")
            operator_env = {**demo.env, "ARCHIVE_OPERATOR_LOG_FORMAT": "text"}
            operator_argv = [str(BIN / "archive-operator"), "run", "--standalone", "-A"]
            with demo.background("operator", operator_argv, operator_env):
                show_chain(demo, caldav)
                if keep:
                    explore(demo, keep=True)
                    demo.kept_up = True
                    while True:  # until a signal (Interrupted) or a child's death
                        demo.check_children("while the demo was kept up")
                        time.sleep(1)


def show_chain(demo: Demo, caldav: str) -> None:
    demo.step("Applying ArchiveSchedules for alice and bob (examples/demo/schedules.yaml)")
    manifest = (DEMO / "schedules.yaml").read_text().replace("${CALDAV}", caldav)
    demo.kubectl("apply", "-f", "-", stdin=manifest, show=True)

    demo.step("Waiting for alice's nightly 23:59 run (the sandbox clock runs x6)")

    alice_run: dict[str, Any] = {}

    def alice_succeeded() -> bool:
        for run in demo.runs():
            if run["spec"]["trigger"] != "scheduled":
                continue
            status = run.get("status", {})
            if status.get("phase") == "Succeeded":
                alice_run.update(run)
                return True
            if status.get("phase") in FINISHED:
                demo.fail(
                    f"alice's scheduled run {run['metadata']['name']} ended {status['phase']}: "
                    f"{status.get('message', '')}"
                )
        return False

    demo.wait_for("alice's scheduled run to succeed", alice_succeeded, 90)

    # The sandbox's clock, not this machine's: the last 7 days before "today" in bob's time zone
    # as the cluster sees it (alice's run was stamped by the sandbox seconds ago).
    week_end = sandbox_date(alice_run, ZoneInfo("America/New_York")) - timedelta(days=1)
    week_start = week_end - timedelta(days=6)
    demo.step(f"A manual run for bob: {week_start} .. {week_end}")
    run = f"""apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveRun
metadata:
  name: bob-last-week
spec:
  scheduleRef: {{name: bob}}
  start: "{week_start}"
  end: "{week_end}"
  trigger: manual
  requestedBy: make-demo
"""
    demo.kubectl("apply", "-f", "-", stdin=run, show=True)
    demo.wait_for(
        "bob's manual run to finish", lambda: demo.run_phase("bob-last-week") in FINISHED, 60
    )

    # Every age below is the sandbox's: kubectl get's tables are computed by the API server, and
    # the plugin reads the server's time from its answers. (kubectl describe computes its events'
    # ages with this machine's clock, hours behind the sandbox's: `<invalid>`. So its events are
    # shown with kubectl get events instead.)
    demo.step("The result (every time and age is the sandbox's clock)")
    demo.kubectl("get", "archiveschedules", show=True)
    demo.kubectl("get", "archiveruns", "-o", "wide", show=True)
    demo.kubectl("get", "cronjobs,jobs,pods", show=True)
    demo.kubectl("archive", "status", show=True)
    demo.kubectl("archive", "history", show=True)
    demo.kubectl("describe", "archiveschedule", "alice", "--show-events=false", show=True)
    demo.kubectl("get", "events", "--field-selector", "involvedObject.name=alice", show=True)
    demo.kubectl("describe", "archiverun", "bob-last-week", "--show-events=false", show=True)
    demo.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=bob-last-week", show=True
    )
    phase = demo.run_phase("bob-last-week")
    if phase != "Succeeded":
        demo.fail(f"bob's manual run bob-last-week ended {phase}")


def sandbox_date(obj: dict[str, Any], zone: ZoneInfo) -> date:
    """The local date in `zone` when the sandbox stamped `obj` (its creationTimestamp)."""
    stamped = datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return stamped.astimezone(zone).date()


def setup_lines(demo: Demo) -> list[str]:
    """The two lines that make a new shell use the demo: the plugin on PATH, the kubeconfig."""
    return [f'export PATH="{BIN}:$PATH"', f"export KUBECONFIG={demo.kubeconfig}"]


def explore(demo: Demo, *, keep: bool) -> None:
    demo.step("Explore")
    if not keep:
        click.echo("Run `make demo ARGS=--keep` to keep the sandbox up, then in another shell:")
    else:
        pid = os.getpid()
        click.echo(
            f"Still running as PID {pid} (Ctrl-C or `kill {pid}` stops it). In another shell:"
        )
    path_line, kubeconfig_line = setup_lines(demo)
    click.echo(f"  {path_line}   # kubectl finds the plugin kubectl-archive there")
    click.echo(f"  {kubeconfig_line}")
    click.echo("  kubectl get archive                 # schedules and runs (category 'archive')")
    click.echo("  kubectl archive status alice        # the plugin")
    click.echo("  kubectl archive history alice")
    click.echo("  kubectl archive trigger bob --wait  # archive yesterday (bob's, by the sandbox)")
    click.echo("  kubectl get events --field-selector involvedObject.name=alice")
    click.echo(
        "The sandbox's clock is not this machine's: kubectl describe shows its events' ages as"
        " <invalid>; kubectl get and kubectl archive show the sandbox's."
    )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
