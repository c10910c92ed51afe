"""`make demo`: the whole chain on the local API sandbox, no cluster needed.

1. A local Radicale serves the bundled sample calendars (examples/demo/calendars/).
2. The sandbox starts with the CRDs and an accelerated clock set just before 23:59 London time;
   the operator runs under kopf against it.
3. ArchiveSchedules for two users (examples/demo/schedules.yaml): alice's nightly 23:59 run fires
   within seconds; bob gets a manual run for the past week.
4. The result is shown with kubectl get and kubectl describe.

With --keep everything stays up to explore with kubectl and `kubectl archive`; otherwise it is
stopped (the kubeconfig stays in .demo/ for the next --keep run).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = ROOT / "examples" / "demo"
USERS = {"alice": "alice-demo", "bob": "bob-demo"}
CLOCK_SPEED = 6  # sandbox seconds per real second: 23:58:30 → 23:59 in 5 s


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.kubeconfig = work / "kubeconfig"
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "NO_COLOR": "1"}
        self.procs: list[subprocess.Popen[str]] = []

    def step(self, text: str) -> None:
        click.secho(f"\n==> {text}", bold=True)

    @contextmanager
    def background(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> Iterator[subprocess.Popen[str]]:
        """A child process whose output goes to <work>/<name>.log; stopped on exit."""
        log = (self.work / f"{name}.log").open("w")
        proc = subprocess.Popen(
            argv, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT
        )
        self.procs.append(proc)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            self.procs.remove(proc)

    def wait_for(self, what: str, check: Callable[[], object], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    program = Path(str(proc.args[0])).name  # type: ignore[index]
                    self.fail(f"{program} exited with {proc.returncode} waiting for {what}")
            if check():
                return
            time.sleep(0.2)
        self.fail(f"timed out after {timeout:.0f}s waiting for {what}")

    def fail(self, message: str) -> None:
        click.secho(f"demo failed: {message}", fg="red", err=True)
        for log in sorted(self.work.glob("*.log")):
            click.echo(f"--- last lines of {log}:", err=True)
            click.echo("\n".join(log.read_text().splitlines()[-20:]), err=True)
        raise SystemExit(1)

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

    def runs(self) -> list[dict[str, object]]:
        return list(json.loads(self.kubectl("get", "archiveruns", "-o", "json"))["items"])


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
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
        f"htpasswd_filename = {users}\nhtpasswd_encryption = plain\ndelay = 0\n"
        f"[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = {storage}\n"
        "[web]\ntype = none\n[logging]\nlevel = warning\n"
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
    help="Where logs, the kubeconfig and Radicale's storage go.",
)
def main(keep: bool, workdir: Path) -> None:
    """Run the demo on the sandbox."""
    workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(workdir.resolve())
    demo.kubeconfig.unlink(missing_ok=True)

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
                    try:
                        while all(p.poll() is None for p in demo.procs):
                            time.sleep(1)
                    except KeyboardInterrupt:
                        pass
    if not keep:
        explore(demo, keep=False)
    demo.step(f"Done: everything stopped (logs in {demo.work}).")


def show_chain(demo: Demo, caldav: str) -> None:
    demo.step("Applying ArchiveSchedules for alice and bob (examples/demo/schedules.yaml)")
    manifest = (DEMO / "schedules.yaml").read_text().replace("${CALDAV}", caldav)
    demo.kubectl("apply", "-f", "-", stdin=manifest, show=True)

    demo.step("Waiting for alice's nightly 23:59 run (the sandbox clock runs x6)")
    demo.wait_for(
        "alice's scheduled run to succeed",
        lambda: any(
            r["spec"]["trigger"] == "scheduled"  # type: ignore[index]
            and r.get("status", {}).get("phase") == "Succeeded"  # type: ignore[attr-defined]
            for r in demo.runs()
        ),
        90,
    )

    week_end = datetime.now(ZoneInfo("America/New_York")).date() - timedelta(days=1)
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
        "bob's manual run to finish",
        lambda: demo.run_phase("bob-last-week") in ("Succeeded", "PartiallySucceeded", "Failed"),
        60,
    )

    demo.step("The result")
    demo.kubectl("get", "archiveschedules", show=True)
    demo.kubectl("get", "archiveruns", "-o", "wide", show=True)
    demo.kubectl("get", "cronjobs,jobs,pods", show=True)
    demo.kubectl("describe", "archiveschedule", "alice", show=True)
    demo.kubectl("describe", "archiverun", "bob-last-week", show=True)


def explore(demo: Demo, *, keep: bool) -> None:
    demo.step("Explore")
    if not keep:
        click.echo("Run `make demo ARGS=--keep` to keep the sandbox up, then in another shell:")
    else:
        click.echo("Still running (Ctrl-C stops it). In another shell:")
    click.echo(f"  export KUBECONFIG={demo.kubeconfig}")
    click.echo("  kubectl get archive                 # schedules and runs (category 'archive')")
    click.echo("  kubectl describe archiveschedule alice")
    click.echo(
        "  kubectl archive status alice        # the plugin (console script kubectl-archive)"
    )
    click.echo("  kubectl archive history alice")
    click.echo("  kubectl archive trigger bob --start 2025-01-06 --end 2025-01-10")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
