"""``archive-operator``: run the operator under kopf."""

from __future__ import annotations

import sys

import click

from .settings import Settings, SettingsError


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
@click.option("--standalone", is_flag=True, help="No peering: run as the only instance.")
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
    kopf.run(
        standalone=standalone,
        clusterwide=not scope,
        namespaces=scope,
        liveness_endpoint=liveness_endpoint,
        memo=kopf.Memo(settings=settings, namespaces=scope),
    )
