"""Commands that change schedules: create, schedule, unschedule, suspend, resume, remove."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..app import (
    App,
    complete_schedule_names,
    kube_options,
    object_output_option,
    pass_app,
    user_option,
)
from ..errors import EXIT_NOT_CONFIRMED, ApiError, BadInput, CliError, NotFound

Obj = dict[str, Any]


def entry_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--daily", is_flag=True, help="Run every day at --at."),
            click.option(
                "--weekly", metavar="DAYS", help="Run on these days at --at, e.g. mon,fri."
            ),
            click.option("--cron", metavar="EXPR", help='A cron schedule, e.g. "30 2 * * 1-5".'),
            click.option(
                "--at", "at", metavar="HH:MM", help="Local time of day (24-hour), e.g. 23:59."
            ),
            click.option(
                "--entry",
                metavar="NAME",
                help="Entry name (default: daily, weekly or cron); replaces an entry of that name.",
            ),
            click.option(
                "--jitter",
                type=click.IntRange(0, 59),
                metavar="MINUTES",
                help="Start up to this many minutes late, stable per user (daily/weekly).",
            ),
        ]
    ):
        f = option(f)
    return f


def entry_from_flags(
    daily: bool, weekly: str | None, cron: str | None, at: str | None, entry: str | None,
    jitter: int | None, *, required: bool,
) -> Obj | None:  # fmt: skip
    """The spec.schedules[] item the flags describe (checked like the CRD), or None."""
    from .. import manifests, validate

    chosen = [
        flag for flag, on in (("--daily", daily), ("--weekly", weekly), ("--cron", cron)) if on
    ]
    if not chosen:
        if required:
            raise BadInput(
                "choose when: --daily --at HH:MM, --weekly DAYS --at HH:MM or --cron EXPR"
            )
        if at or entry or jitter is not None:
            raise BadInput("--at, --entry and --jitter need one of --daily, --weekly or --cron")
        return None
    if len(chosen) > 1:
        raise BadInput(f"choose one of {' or '.join(chosen)}, not several")
    kind = chosen[0].lstrip("-")
    name = validate.entry_name(entry or kind)
    if cron:
        if at:
            raise BadInput("--at does not go with --cron: the cron expression holds the time")
        return manifests.entry(name, cron=validate.cron(cron), jitter_minutes=jitter)
    if not at:
        raise BadInput(f"{chosen[0]} needs --at HH:MM, e.g. --at 23:59")
    at = validate.at_time(at)
    if daily:
        return manifests.entry(name, daily_at=at, jitter_minutes=jitter)
    assert weekly is not None
    days = validate.weekdays(weekly)
    return manifests.entry(name, weekly_days=days, weekly_at=at, jitter_minutes=jitter)


def _create_command(app: App, name: str | None, user: str | None, new: Obj) -> str:
    """The ``kubectl archive create`` command that makes the schedule `schedule` looked for,
    with the entry it was given (URL and SECRET are left for the user to fill in)."""
    from shlex import quote

    words = ["kubectl", "archive", "create"]
    if name:
        words.append(name)
    if user:
        words += ["--user", user]
    else:
        words += ["--user", "USER"]
    words += ["--source", "URL", "--destination", "URL", "--credentials", "SECRET"]
    if new.get("daily"):
        words += ["--daily", "--at", new["daily"]["at"]]
    elif new.get("weekly"):
        words += ["--weekly", ",".join(new["weekly"]["days"]), "--at", new["weekly"]["at"]]
    else:
        words += ["--cron", new["cron"]]
    kind = next(k for k in ("daily", "weekly", "cron") if new.get(k))
    if new.get("name") != kind:
        words += ["--entry", new["name"]]
    if new.get("jitterMinutes") is not None:
        words += ["--jitter", str(new["jitterMinutes"])]
    if app.namespace:
        words += ["-n", app.namespace]
    return " ".join(w if w in ("URL", "SECRET", "USER") else quote(w) for w in words)


def _print_object(obj: Obj, output: str | None, message: str) -> None:
    from ..output import documents

    if output in ("json", "yaml", "name"):
        click.echo(
            documents([obj], output, "archiveschedules.archive.auriora.io", single=True), nl=False
        )
    else:
        click.echo(message)


def _graph_app(tenant: str | None, client_id: str | None) -> tuple[str, str] | None:
    if tenant is None and client_id is None:
        return None
    if tenant is None or client_id is None:
        raise BadInput("--graph-tenant and --graph-client-id go together: give both")
    from .. import validate

    return validate.graph_tenant(tenant), validate.graph_client_id(client_id)


def _read_file(path: str) -> Obj:
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else click.open_file(path).read()
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"-f {path}: cannot read an ArchiveSchedule: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") not in (None, "ArchiveSchedule"):
        raise BadInput(f"-f {path}: expected one ArchiveSchedule document")
    return data


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@click.option(
    "--user", "user", metavar="USER", help="The user whose calendar is archived (spec.user)."
)
@click.option("--source", metavar="URL", help="Source CalDAV calendar collection URL.")
@click.option(
    "--source-ics", metavar="URL", help="Source iCalendar (.ics) feed URL, instead of --source."
)
@click.option("--destination", metavar="URL", help="Archive CalDAV calendar collection URL.")
@click.option(
    "--destination-pvc",
    metavar="CLAIM[/PATH]",
    help="Archive into .ics files on a PersistentVolumeClaim (optionally in a folder).",
)
@click.option(
    "--source-graph",
    metavar="MAILBOX[/CALENDAR]",
    help="Source Microsoft 365 calendar, read through Microsoft Graph (default calendar if "
    "none is named); needs --graph-tenant and --graph-client-id.",
)
@click.option(
    "--destination-graph",
    metavar="MAILBOX/CALENDAR",
    help="Archive Microsoft 365 calendar, written through Microsoft Graph.",
)
@click.option(
    "--graph-tenant", metavar="TENANT", help="Microsoft Entra tenant ID or domain of the app."
)
@click.option(
    "--graph-client-id",
    metavar="ID",
    help="The app's application (client) ID; its client-secret or client-certificate goes in "
    "the --credentials Secret.",
)
@click.option("--credentials", metavar="SECRET", help="Secret with the calendar credentials.")
@click.option("--time-zone", metavar="TZ", help="IANA time zone of times and days (default UTC).")
@click.option("--suspend", is_flag=True, default=None, help="Create it suspended.")
@click.option(
    "-f",
    "--filename",
    metavar="FILE",
    help="Start from this ArchiveSchedule YAML (- for stdin); flags override it.",
)
@entry_options
@kube_options
@object_output_option()
@pass_app
def create(
    app: App, name: str | None, user: str | None, source: str | None, source_ics: str | None,
    destination: str | None, destination_pvc: str | None, source_graph: str | None,
    destination_graph: str | None, graph_tenant: str | None, graph_client_id: str | None,
    credentials: str | None,
    time_zone: str | None, suspend: bool | None, filename: str | None, daily: bool,
    weekly: str | None, cron: str | None, at: str | None, entry: str | None,
    jitter: int | None, output: str | None,
) -> None:  # fmt: skip
    """Create a user's ArchiveSchedule from flags (and/or a file).

    \b
    Examples:
      kubectl archive create alice --user alice \\
        --source https://cal.example.com/dav/alice/calendar/ \\
        --destination https://cal.example.com/dav/alice/archive/ \\
        --credentials alice-calendar --time-zone Europe/London --daily --at 23:59
      kubectl archive create carol --user carol \\
        --source-graph carol@contoso.com --destination-graph carol@contoso.com/Archive \\
        --graph-tenant contoso.onmicrosoft.com \\
        --graph-client-id 00001111-aaaa-2222-bbbb-3333cccc4444 \\
        --credentials carol-m365 --daily --at 23:59
      kubectl archive create -f alice.yaml --time-zone UTC
    """
    from .. import manifests, validate
    from ..client import SCHEDULES

    base = _read_file(filename) if filename else None
    first = entry_from_flags(daily, weekly, cron, at, entry, jitter, required=False)
    claim = validate.claim(destination_pvc) if destination_pvc else None
    graph_app = _graph_app(graph_tenant, graph_client_id)
    read_graph = (
        validate.graph_calendar(source_graph, "--source-graph", calendar_required=False)
        if source_graph
        else None
    )
    write_graph = (
        validate.graph_calendar(destination_graph, "--destination-graph", calendar_required=True)
        if destination_graph
        else None
    )
    spec: Obj = {
        "user": validate.user(user) if user else None,
        "timeZone": validate.time_zone(time_zone) if time_zone else None,
        "suspend": suspend,
        "source": manifests.source_spec(
            validate.url(source, "--source") if source else None,
            validate.url(source_ics, "--source-ics") if source_ics else None,
            read_graph,
            graph_app,
        ),
        "destination": manifests.destination_spec(
            validate.url(destination, "--destination") if destination else None,
            claim,
            write_graph,
            graph_app,
        ),
        "credentialsSecretRef": {"name": validate.schedule_name(credentials, "--credentials")}
        if credentials
        else None,
        "schedules": [first] if first else None,
    }
    if source_ics and (where := validate.token_in_url(source_ics)):
        # The URL goes into the schedule, the CronJob and the runner's pod spec, all readable
        # by more people than the Secret; the runner never shows its query, but they can.
        click.echo(
            f"warning: --source-ics: {where} looks like a token, and the URL will be stored in "
            "the ArchiveSchedule and its CronJobs; for a private feed put the URL in the "
            "credentials Secret instead and set spec.source.ics.urlSecretKey to its key "
            "(kubectl archive create -f FILE, see docs/runner.md)",
            err=True,
        )
    body = manifests.schedule_manifest(base, name=name, namespace=None, spec=spec)
    missing = [
        flag
        for key, flag in (
            ("user", "--user"),
            ("source", "--source"),
            ("destination", "--destination"),
        )
        if not body["spec"].get(key)
    ]
    if missing:
        raise BadInput(f"missing {', '.join(missing)} (or give them in -f FILE)")
    if "graph" in body["spec"]["source"] and not body["spec"].get("credentialsSecretRef"):
        raise BadInput(
            "--source-graph needs --credentials: the Secret that holds the app's client-secret "
            "(or client-certificate)"
        )
    if not body["metadata"].get("name"):
        body["metadata"]["name"] = validate.name_for_user(body["spec"]["user"])
    validate.schedule_name(body["metadata"]["name"])
    namespace = name_ns = body["metadata"].pop("namespace", None) or app.ns
    if app.namespace and name_ns != app.namespace:
        raise BadInput(f'-f names namespace "{name_ns}" but --namespace is "{app.namespace}"')
    created = app.client.create(SCHEDULES, namespace, body)
    _print_object(
        created, output, f"archiveschedule.archive.auriora.io/{created['metadata']['name']} created"
    )


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@entry_options
@kube_options
@object_output_option()
@pass_app
def schedule(
    app: App, name: str | None, user: str | None, daily: bool, weekly: str | None,
    cron: str | None, at: str | None, entry: str | None, jitter: int | None, output: str | None,
) -> None:  # fmt: skip
    """Add or replace a schedule entry (when scheduled runs happen).

    The schedule must exist: a new user's is made with kubectl archive create, which takes the
    same entry flags (for a schedule that is not there, the error prints that command).

    \b
    Examples:
      kubectl archive schedule alice --daily --at 23:59
      kubectl archive schedule --user bob@example.com --weekly mon,fri --at 18:00 \\
        --entry twice-weekly
      kubectl archive schedule carol --cron "30 2 * * 1-5" --entry weeknights
    """
    from .. import manifests, select
    from ..client import SCHEDULES
    from ..views import describe_entry

    new = entry_from_flags(daily, weekly, cron, at, entry, jitter, required=True)
    assert new is not None
    select.check_choice(name, user)
    try:
        current = select.schedule(app, name, user)
    except NotFound as exc:
        # The old CLI's `jobs schedule` made a user's job; here a new user needs `create` first.
        raise NotFound(
            f"{exc.message}; schedule adds an entry to an existing schedule, so create the "
            f"user's schedule with this entry instead: {_create_command(app, name, user, new)}"
        ) from exc
    entries, replaced = manifests.with_entry(list(current["spec"].get("schedules") or []), new)
    updated = app.client.patch(
        SCHEDULES, app.ns, current["metadata"]["name"], manifests.entries_patch(current, entries)
    )
    verb = "replaced" if replaced else "added"
    _print_object(
        updated,
        output,
        f"archiveschedule.archive.auriora.io/{updated['metadata']['name']}: entry"
        f' "{new["name"]}" {verb} ({describe_entry(new)})',
    )


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@click.option("--entry", metavar="NAME", required=True, help="The entry to remove, e.g. nightly.")
@kube_options
@object_output_option()
@pass_app
def unschedule(
    app: App, name: str | None, user: str | None, entry: str, output: str | None
) -> None:
    """Remove a schedule entry (its runs and history stay).

    \b
    Example:
      kubectl archive unschedule alice --entry nightly
    """
    from .. import manifests, select
    from ..client import SCHEDULES

    select.check_choice(name, user)
    current = select.schedule(app, name, user)
    schedule_name = current["metadata"]["name"]
    entries = manifests.without_entry(
        list(current["spec"].get("schedules") or []), entry, schedule_name
    )
    updated = app.client.patch(
        SCHEDULES, app.ns, schedule_name, manifests.entries_patch(current, entries)
    )
    _print_object(
        updated,
        output,
        f'archiveschedule.archive.auriora.io/{schedule_name}: entry "{entry}" removed',
    )


def _set_suspend(
    app: App, name: str | None, user: str | None, value: bool, output: str | None
) -> None:
    from .. import select
    from ..client import SCHEDULES

    target = select.name_of(app, name, user)
    try:
        updated = app.client.patch(SCHEDULES, app.ns, target, {"spec": {"suspend": value}})
    except ApiError as exc:
        if exc.code == 404:
            raise select.not_found(app, target) from exc
        raise
    word = "suspended" if value else "resumed"
    _print_object(updated, output, f"archiveschedule.archive.auriora.io/{target} {word}")


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@kube_options
@object_output_option()
@pass_app
def suspend(app: App, name: str | None, user: str | None, output: str | None) -> None:
    """Suspend scheduled runs (running ones finish).

    \b
    Example:
      kubectl archive suspend alice
    """
    _set_suspend(app, name, user, True, output)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@kube_options
@object_output_option()
@pass_app
def resume(app: App, name: str | None, user: str | None, output: str | None) -> None:
    """Resume a suspended schedule.

    \b
    Example:
      kubectl archive resume --user alice
    """
    _set_suspend(app, name, user, False, output)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@click.option(
    "-y",
    "--yes",
    "--confirm",
    "yes",
    is_flag=True,
    help="Do not ask for confirmation (--confirm: the old CLI's spelling).",
)
@kube_options
@pass_app
def remove(app: App, name: str | None, user: str | None, yes: bool) -> None:
    """Remove a schedule and all its jobs and runs.

    Deletes the ArchiveSchedule; its CronJobs, Jobs, Pods and ArchiveRuns (the run
    history) are deleted with it by garbage collection. Asks for confirmation on a
    terminal; elsewhere it refuses unless --yes is given.

    \b
    Examples:
      kubectl archive remove alice
      kubectl archive remove --user bob@example.com --yes
    """
    from .. import select
    from ..client import SCHEDULES

    select.check_choice(name, user)
    if not yes and not app.stdin_is_tty():
        raise CliError(
            "refusing to remove without confirmation: not on a terminal; pass --yes",
            EXIT_NOT_CONFIRMED,
        )
    current = select.schedule(app, name, user)
    target, owner = current["metadata"]["name"], current["spec"].get("user")
    if not yes:
        question = (
            f'Remove schedule "{target}" (user {owner}) in namespace "{app.ns}" with all its'
            " CronJobs, Jobs and ArchiveRuns?"
        )
        if not click.confirm(question, default=False):
            raise CliError("not removed", EXIT_NOT_CONFIRMED)
    try:
        app.client.delete(SCHEDULES, app.ns, target, uid=current["metadata"].get("uid"))
    except ApiError as exc:
        if exc.code == 404:
            raise select.not_found(app, target) from exc
        raise
    click.echo(
        f'archiveschedule.archive.auriora.io "{target}" deleted'
        " (its CronJobs, Jobs and ArchiveRuns follow by garbage collection)"
    )
