"""`archive-sandbox serve`: run the Kubernetes API sandbox on loopback until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from .app import Sandbox
from .auth import Users
from .faults import FaultConfig, FaultSpecError, parse_spec


def _workloads_env(name: str, value: object) -> None:
    """Workload options travel as the environment `Workloads` reads (controllers/workloads.py)."""
    if value is not None:
        os.environ[name] = str(value)


@click.group()
def main() -> None:
    """A Kubernetes API sandbox for tests and demos (see sandbox/README.md)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option(
    "--kubeconfig",
    "kubeconfig_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".sandbox/kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig.",
)
@click.option(
    "--crds",
    "crd_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Install the CRDs in this directory (or file) at start.",
)
@click.option(
    "--user",
    "user_specs",
    multiple=True,
    metavar="TOKEN=USER[:GROUP,...]",
    help="Add a bearer token for a user (repeatable).",
)
@click.option(
    "--clock-speed",
    type=click.FloatRange(min=0),
    expose_value=False,
    callback=lambda _c, _p, v: _workloads_env("ARCHIVE_SANDBOX_CLOCK_SPEED", v),
    help="Sandbox seconds per real second for CronJobs, Jobs and pods (0 freezes; default 1).",
)
@click.option(
    "--clock-start",
    metavar="RFC3339",
    expose_value=False,
    callback=lambda _c, _p, v: _workloads_env("ARCHIVE_SANDBOX_CLOCK_START", v),
    help="Start the sandbox clock at this time (default: now).",
)
@click.option(
    "--images",
    type=click.Path(exists=True, dir_okay=False),
    expose_value=False,
    callback=lambda _c, _p, v: _workloads_env("ARCHIVE_SANDBOX_IMAGES", v),
    help="YAML image rules: which local command runs which image (see sandbox/README.md).",
)
@click.option(
    "--faults",
    "fault_spec",
    metavar="SPEC",
    help="Fault mode: e.g. 'seed=7,500=0.05,429=0.05,409=0.05,drop=0.3' (sandbox/README.md).",
)
def serve(
    host: str,
    port: int,
    kubeconfig_path: Path,
    crd_dir: Path | None,
    user_specs: tuple[str, ...],
    fault_spec: str | None,
) -> None:
    """Serve the Kubernetes API; write a kubeconfig for it."""
    faults = None
    if fault_spec:
        try:
            faults = parse_spec(fault_spec)
        except FaultSpecError as e:
            raise click.BadParameter(str(e), param_hint="--faults") from None
    users = Users()
    for spec in user_specs:
        try:
            token, name, groups = Users.parse_spec(spec)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--user") from None
        users.add(token, name, groups)
    asyncio.run(_serve(host, port, kubeconfig_path, crd_dir, users, faults))


async def _serve(
    host: str,
    port: int,
    kubeconfig_path: Path,
    crd_dir: Path | None,
    users: Users,
    faults: FaultConfig | None = None,
) -> None:
    sandbox = Sandbox(users=users)
    url = await sandbox.start(host, port)
    if faults is not None:
        sandbox.faults.configure(faults)
    try:
        if crd_dir is not None:
            files = sorted(crd_dir.glob("*.y*ml")) if crd_dir.is_dir() else [crd_dir]
            names = await sandbox.apply_crd_files(files)
            click.echo(f"Installed CRDs: {', '.join(names) or '(none found)'}")
        path = sandbox.write_kubeconfig(kubeconfig_path.resolve())
        click.echo(f"Kubernetes API sandbox listening on {url}")
        if faults is not None:
            click.echo(f"Fault mode on: {len(faults.rules)} rule(s), seed {faults.seed}")
        click.echo(f"Kubeconfig written to {path}")
        click.echo(f"  export KUBECONFIG={path}")
        click.echo("  kubectl get namespaces")
        click.echo("Stop with Ctrl-C.")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        click.echo("Stopping the sandbox.")
    finally:
        await sandbox.stop()


@main.command()
@click.option(
    "--kubeconfig",
    "kubeconfig_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's identity and API server (a real node's: CN=system:node:NAME, O=system:nodes).",
)
@click.option("--node-name", required=True, help="The Node to register and run pods for.")
@click.option(
    "--images",
    "images_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML image rules: which local command runs which image (see sandbox/README.md).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where pods' files and logs live (default: a temporary directory removed at stop).",
)
def node(
    kubeconfig_path: Path, node_name: str, images_path: Path | None, state_dir: Path | None
) -> None:
    """Run the node agent against any API server until SIGINT/SIGTERM (sandbox/README.md)."""
    from .controllers.workloads import RUNNER_RULE, load_image_rules

    images = [*(load_image_rules(images_path) if images_path else []), RUNNER_RULE]
    asyncio.run(_node(kubeconfig_path, node_name, images, state_dir))


async def _node(
    kubeconfig_path: Path, node_name: str, images: list[Any], state_dir: Path | None
) -> None:
    import logging
    import shutil
    import tempfile

    from .node_agent import NodeAgent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    own_dir = state_dir is None
    directory = state_dir or Path(tempfile.mkdtemp(prefix="archive-node-"))
    directory.mkdir(parents=True, exist_ok=True)
    agent = NodeAgent(kubeconfig_path, node_name, images, directory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.start()
        click.echo(f"Node {node_name} registered; logs served on 127.0.0.1:{agent.log_port}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await agent.stop()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
