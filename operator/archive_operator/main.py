"""``archive-operator``: run the operator under kopf.

Two ways to run (docs/operator.md, "Leader election"):

* alone (``--standalone``, or ARCHIVE_OPERATOR_LEADER_ELECTION unset/false, as outside the
  chart): kopf reconciles from the start;
* elected (ARCHIVE_OPERATOR_LEADER_ELECTION=true, as the chart sets it, and no
  ``--standalone``): kopf starts only once this process holds the Lease, and the process exits
  when it loses it (leader_elector.py; the bound in leader_election.py).

Either way kopf's own peering is off: same-priority kopf peers all pause instead of electing a
leader, which is what the Lease replaces.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
from typing import TYPE_CHECKING

import click

from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from .leader_elector import Elector


@click.group()
def cli() -> None:
    """Archive Operator: turns ArchiveSchedules into CronJobs that run the archive runner."""


@cli.command()
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch this namespace (repeatable; kopf globs allowed). "
    "Default: ARCHIVE_OPERATOR_NAMESPACES, else all namespaces.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option(
    "--standalone",
    is_flag=True,
    help="Run as the only instance: no leader election, whatever "
    "ARCHIVE_OPERATOR_LEADER_ELECTION says (kopf's peering is never used).",
)
@click.option(
    "--liveness",
    "liveness_endpoint",
    metavar="URL",
    help="Serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
def run(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    standalone: bool,
    liveness_endpoint: str | None,
    verbose: bool,
    quiet: bool,
) -> None:
    """Run the operator until interrupted."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"archive-operator: {exc}", err=True)
        sys.exit(2)
    if namespaces and all_namespaces:
        raise click.UsageError("use either --namespace or --all-namespaces, not both")
    scope: tuple[str, ...] = () if all_namespaces else (namespaces or settings.namespaces)

    import kopf  # heavy: imported only when the operator really starts

    from . import handlers  # noqa: F401  (registers the handlers)

    # Flags win; otherwise ARCHIVE_OPERATOR_LOG_LEVEL / _LOG_FORMAT (set by the chart).
    verbose = verbose or (not quiet and settings.log_level == "debug")
    quiet = quiet or (not verbose and settings.log_level in ("warning", "error"))
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=verbose, quiet=quiet, log_format=log_format)
    options = {
        "standalone": True,  # never kopf's peering (see the module doc)
        "clusterwide": not scope,
        "namespaces": scope,
        "liveness_endpoint": liveness_endpoint,
        "memo": kopf.Memo(settings=settings, namespaces=scope),
    }
    if standalone or not settings.leader_election:
        kopf.run(**options)  # type: ignore[arg-type]
        return

    from .leader_elector import run_elected

    elector = build_elector(settings)

    async def operator() -> None:
        await kopf.operator(**options)  # type: ignore[arg-type]

    sys.exit(asyncio.run(run_elected(elector, operator, liveness_endpoint)))


def build_elector(settings: Settings) -> Elector:
    """The candidate for the Lease the settings name, as this pod (plus a random suffix)."""
    from .kube import Kube, load_api_client
    from .leader_election import Timings, new_identity
    from .leader_elector import Elector, KubeLeaseApi

    namespace = settings.election_namespace
    if not namespace:
        click.echo(
            "archive-operator: leader election needs the Lease's namespace: set "
            "ARCHIVE_OPERATOR_LEASE_NAMESPACE (or ARCHIVE_OPERATOR_POD_NAMESPACE), or run "
            "--standalone",
            err=True,
        )
        sys.exit(2)
    identity = new_identity(settings.pod_name, socket.gethostname(), secrets.token_hex(4))
    timings = Timings(
        lease_duration=settings.lease_duration_seconds,
        renew_deadline=settings.renew_deadline_seconds,
        retry_period=settings.retry_period_seconds,
    )
    api = KubeLeaseApi(Kube(load_api_client()), settings.lease_name, namespace)
    return Elector(api, identity, timings, name=settings.lease_name, namespace=namespace)
