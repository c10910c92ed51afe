"""`make demo`: the whole thing on the local API sandbox, no cluster needed.

Starts the sandbox with the CRDs, runs the operator under kopf, applies examples/, waits until
every ArchiveSchedule is reconciled, and shows the result the way kubectl shows it. With --keep
it stays up so you can explore with kubectl; otherwise it stops everything it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORK = ROOT / ".demo"


def step(text: str) -> None:
    click.secho(f"\n==> {text}", bold=True)


@contextmanager
def background(name: str, argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A child process whose output goes to .demo/<name>.log; stopped on exit."""
    log = (WORK / f"{name}.log").open("w")
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
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


def wait_for(what: str, check: object, timeout: float, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                fail(f"{proc.args[0]} exited with {proc.returncode} while waiting for {what}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    fail(f"timed out after {timeout:.0f}s waiting for {what}")


def fail(message: str) -> None:
    click.secho(f"demo failed: {message}", fg="red", err=True)
    for log in sorted(WORK.glob("*.log")):
        click.echo(f"--- last lines of {log.relative_to(ROOT)}:", err=True)
        click.echo("\n".join(log.read_text().splitlines()[-20:]), err=True)
    raise SystemExit(1)


def kubectl(*args: str, env: dict[str, str], show: bool = False) -> str:
    if show:
        click.secho("$ kubectl " + " ".join(args), fg="cyan")
    result = subprocess.run(
        [str(BIN / "kubectl"), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        fail(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    if show:
        click.echo(result.stdout.rstrip())
    return result.stdout


def all_schedules_reconciled(env: dict[str, str]) -> bool:
    items = json.loads(kubectl("get", "archiveschedules", "-A", "-o", "json", env=env))["items"]
    return bool(items) and all(
        any(c["type"] == "Ready" for c in item.get("status", {}).get("conditions", []))
        for item in items
    )


@click.command()
@click.option("--keep", is_flag=True, help="Stay up after the demo, to explore with kubectl.")
def main(keep: bool) -> None:
    """Run the demo on the sandbox."""
    WORK.mkdir(exist_ok=True)
    kubeconfig = WORK / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "NO_COLOR": "1"}

    step("Starting the Kubernetes API sandbox with the CRDs from crds/")
    sandbox_argv = [str(BIN / "archive-sandbox"), "serve", "--kubeconfig", str(kubeconfig)]
    with background("sandbox", [*sandbox_argv, "--crds", "crds"], env) as sandbox:
        wait_for("the sandbox", kubeconfig.exists, 30, [sandbox])
        kubectl("get", "crd", env=env, show=True)

        step("Running the operator (real kopf) against it")
        operator_argv = [str(BIN / "archive-operator"), "run", "--standalone", "--all-namespaces"]
        with background("operator", operator_argv, env) as operator:
            step("Applying examples/")
            kubectl("apply", "-f", "examples/", env=env, show=True)
            wait_for(
                "every ArchiveSchedule to be reconciled",
                lambda: all_schedules_reconciled(env),
                60,
                [sandbox, operator],
            )

            step("The result")
            kubectl("get", "archiveschedules", env=env, show=True)
            kubectl("get", "cronjobs", "-o", "wide", env=env, show=True)
            kubectl("describe", "archiveschedule", "alice", env=env, show=True)

            if keep:
                step("Still running. In another shell:")
                click.echo(f"  export KUBECONFIG={kubeconfig}")
                click.echo("  kubectl get archive -A")
                click.echo("Stop with Ctrl-C.")
                try:
                    while sandbox.poll() is None and operator.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    step("Done: sandbox and operator stopped (logs in .demo/). `make demo ARGS=--keep` stays up.")


if __name__ == "__main__":
    main()
