"""Read-only commands about schedules: status and health."""

from __future__ import annotations

from typing import Any

import click

from ..app import (
    App,
    all_namespaces_option,
    complete_schedule_names,
    kube_options,
    no_headers_option,
    output_option,
    pass_app,
    selector_option,
    user_option,
)
from ..errors import EXIT_UNHEALTHY, BadInput

Obj = dict[str, Any]
SCHEDULES_NAME = "archiveschedules.archive.auriora.io"


def _schedules(
    app: App, name: str | None, user: str | None, all_namespaces: bool, selector: str | None
) -> tuple[list[Obj], bool]:
    """The schedules asked for, and whether exactly one was named (one GET or one LIST)."""
    from .. import select
    from ..client import SCHEDULES

    if name and user:
        raise BadInput("give a schedule NAME or --user, not both")
    if (name or user) and all_namespaces:
        raise BadInput("-A lists every schedule; it does not go with a NAME or --user")
    if name or user:
        return [select.schedule(app, name, user)], True
    listing = app.client.list(SCHEDULES, None if all_namespaces else app.ns, selector)
    items = sorted(
        listing.get("items") or [],
        key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"]),
    )
    return items, False


def _none_found(app: App, all_namespaces: bool) -> None:
    where = "in any namespace" if all_namespaces else f'in namespace "{app.ns}"'
    click.echo(f"No schedules found {where}.", err=True)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@all_namespaces_option
@selector_option
@kube_options
@output_option(
    default=None, help_text="Output format (default: details of one schedule, else a table)."
)
@no_headers_option
@pass_app
def status(
    app: App, name: str | None, user: str | None, all_namespaces: bool, selector: str | None,
    output: str | None, no_headers: bool,
) -> None:  # fmt: skip
    """Show schedules: entries, next and last run, Ready, Healthy.

    With a NAME or --user: the detail view of that schedule (-o table for one row).
    Without: a table of every schedule in the namespace (-A: in all namespaces).

    \b
    Examples:
      kubectl archive status
      kubectl archive status alice
      kubectl archive status -A -o wide
      kubectl archive status --user bob@example.com -o yaml
    """
    from ..output import documents
    from ..views import schedule_detail, schedules_table

    items, single = _schedules(app, name, user, all_namespaces, selector)
    if output in ("json", "yaml", "name"):
        click.echo(documents(items, output, SCHEDULES_NAME, single=single), nl=False)
        return
    if single and not output:
        click.echo(schedule_detail(items[0], app.clock(), colour=app.colour), nl=False)
        return
    if not items:
        _none_found(app, all_namespaces)
        return
    text = schedules_table(
        items, app.clock(), wide=output == "wide", all_namespaces=all_namespaces,
        no_headers=no_headers, colour=app.colour,
    )  # fmt: skip
    click.echo(text, nl=False)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@all_namespaces_option
@selector_option
@click.option("--strict", is_flag=True, help="Count schedules of unknown health as unhealthy.")
@kube_options
@output_option(formats=("table", "wide", "json", "yaml", "name"))
@no_headers_option
@pass_app
def health(
    app: App, name: str | None, user: str | None, all_namespaces: bool, selector: str | None,
    strict: bool, output: str, no_headers: bool,
) -> None:  # fmt: skip
    """Check every schedule's health; exit 8 when any is unhealthy.

    A schedule is unhealthy when its Ready or Healthy condition is False (its CronJobs
    could not be made, or its runs fail or miss their time); unknown while the operator
    has not reported yet (unhealthy with --strict); suspended schedules are not judged,
    unless a run is Blocked (its pod cannot start). For scripts and monitoring.

    \b
    Examples:
      kubectl archive health -A
      kubectl archive health alice --strict -o name
    """
    from ..output import documents
    from ..views import health_of, health_table

    items, single = _schedules(app, name, user, all_namespaces, selector)
    bad_states = {"unhealthy", "unknown"} if strict else {"unhealthy"}
    unhealthy = [s for s in items if health_of(s).state in bad_states]
    if output == "name":
        # The unhealthy ones only: ready for xargs.
        click.echo(documents(unhealthy, "name", SCHEDULES_NAME, single=False), nl=False)
    elif output in ("json", "yaml"):
        click.echo(documents(items, output, SCHEDULES_NAME, single=single), nl=False)
    elif not items:
        _none_found(app, all_namespaces)
    else:
        text = health_table(
            items, app.clock(), wide=output == "wide", all_namespaces=all_namespaces,
            no_headers=no_headers, colour=app.colour,
        )  # fmt: skip
        click.echo(text, nl=False)
    if unhealthy:
        click.echo(f"{len(unhealthy)} of {len(items)} schedules unhealthy", err=True)
        raise SystemExit(EXIT_UNHEALTHY)
