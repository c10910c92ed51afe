"""Commands about runs: trigger, backfill, history, logs."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Any

import click

from ..app import (
    App,
    all_namespaces_option,
    complete_schedule_names,
    kube_options,
    no_headers_option,
    object_output_option,
    output_option,
    pass_app,
    selector_option,
    user_option,
)
from ..errors import EXIT_RUN_FAILED, EXIT_RUN_SKIPPED, BadInput, CliError, NotFound

Obj = dict[str, Any]
RUNS_NAME = "archiveruns.archive.auriora.io"
# Phases a run may end in before the operator made its Job; the exit code `logs` gives.
ENDED_WITHOUT_JOB = {"Failed": EXIT_RUN_FAILED, "Skipped": EXIT_RUN_SKIPPED}


def wait_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--dry-run", is_flag=True, help="Read and plan, report counts, write nothing."
            ),
            click.option(
                "--wait",
                is_flag=True,
                help="Follow the run(s) live; the exit code tells the outcome.",
            ),
            click.option(
                "--timeout",
                default="1h",
                show_default=True,
                metavar="DURATION",
                help="With --wait: give up after this long (e.g. 90s, 30m, 2h; 0: no limit).",
            ),
        ]
    ):
        f = option(f)
    return f


def _check_day_syntax(value: str | None, flag: str) -> date | None:
    """Reject a malformed date before any request; the date if it is explicit (YYYY-MM-DD).

    ``today`` and ``yesterday`` are resolved later, in the schedule's time zone.
    """
    from .. import validate

    if value is None or value.strip().lower() in ("today", "yesterday"):
        if value is not None:
            validate.day(value, flag, date(2000, 1, 1))
        return None
    return validate.day(value, flag, date(2000, 1, 1))


def _create_runs(
    app: App,
    schedule: Obj,
    ranges: list[tuple[date, date]],
    trigger: str,
    dry_run: bool,
    output: str | None,
) -> list[Obj]:
    from .. import manifests
    from ..client import RUNS
    from ..output import documents

    created: list[Obj] = []
    for start, end in ranges:
        body = manifests.run_manifest(
            schedule,
            start,
            end,
            trigger=trigger,
            dry_run=dry_run,
            requested_by=app.client.user_name,
        )
        try:
            run = app.client.create(RUNS, app.ns, body)
        except CliError as exc:
            if created:
                done = ", ".join(r["metadata"]["name"] for r in created)
                raise type(exc)(
                    f"{exc.message} (created before the error: {done})", exc.exit_code
                ) from exc
            raise
        created.append(run)
        if output in ("json", "yaml", "name"):
            continue
        note = " (dry run)" if dry_run else ""
        click.echo(
            f"archiverun.archive.auriora.io/{run['metadata']['name']} created:"
            f" {start.isoformat()} to {end.isoformat()}{note}"
        )
    if output in ("json", "yaml", "name"):
        click.echo(documents(created, output, RUNS_NAME, single=len(created) == 1), nl=False)
    return created


def _follow(app: App, schedule: Obj, runs: list[Obj], timeout: str) -> None:
    from archive_operator import constants as c

    from ..client import RUNS
    from ..follow import follow, parse_timeout

    live = app.stdout_is_tty()
    code = follow(
        app.client,
        RUNS,
        app.ns,
        runs,
        selector=f"{c.LABEL_SCHEDULE}={c.label_value(schedule['metadata']['name'])}",
        timeout=parse_timeout(timeout),
        clock=app.clock,
        out=sys.stdout,
        live=live,
        colour=app.colour,
    )
    if code:
        sys.stdout.flush()
        raise SystemExit(code)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@click.option(
    "--start", metavar="DATE", help="First day (YYYY-MM-DD, today, yesterday). Default: yesterday."
)
@click.option("--end", metavar="DATE", help="Last day, inclusive. Default: --start.")
@wait_options
@kube_options
@object_output_option()
@pass_app
def trigger(
    app: App, name: str | None, user: str | None, start: str | None, end: str | None,
    dry_run: bool, wait: bool, timeout: str, output: str | None,
) -> None:  # fmt: skip
    """Run an archive now for a range of days (default: yesterday).

    Days are local days in the schedule's time zone, up to today: a range ending after
    today is refused before anything is created. The run is an ArchiveRun that the
    operator starts like any other; with --wait the command follows it and exits with
    0 (Succeeded), 10 (PartiallySucceeded), 11 (Failed) or 12 (Skipped), or stops with 14
    and the reason as soon as the run is Blocked (its pod cannot start, e.g. a missing Secret).

    \b
    Examples:
      kubectl archive trigger alice
      kubectl archive trigger --user alice --start 2024-12-18 --end 2024-12-18 --wait
      kubectl archive trigger alice --start 2024-12-01 --end 2024-12-31 --dry-run
    """
    from .. import manifests, select, validate
    from ..follow import parse_timeout

    select.check_choice(name, user)
    explicit_start = _check_day_syntax(start, "--start")
    explicit_end = _check_day_syntax(end, "--end")
    if explicit_start and explicit_end:
        validate.date_range(explicit_start, explicit_end)
    parse_timeout(timeout)
    schedule = select.schedule(app, name, user)
    time_zone = schedule["spec"].get("timeZone", "UTC")
    today = manifests.local_today(app.clock(), time_zone)
    first = validate.day(start, "--start", today) if start else None
    last = validate.day(end, "--end", today) if end else None
    first = first or last or today - timedelta(days=1)
    last = last or first
    validate.date_range(first, last)
    if end:
        validate.not_after_today(last, "--end", end, today, time_zone)
    elif start:  # --end defaults to --start
        validate.not_after_today(last, "--start", start, today, time_zone)
    runs = _create_runs(app, schedule, [(first, last)], "manual", dry_run, output)
    if wait:
        _follow(app, schedule, runs, timeout)


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@click.option("--start", metavar="DATE", required=True, help="First day (YYYY-MM-DD).")
@click.option("--end", metavar="DATE", help="Last day, inclusive. Default: yesterday.")
@click.option(
    "--days-per-run",
    type=int,
    default=366,
    show_default=True,
    help="Split the range into runs of at most this many days (1-366).",
)
@wait_options
@kube_options
@object_output_option()
@pass_app
def backfill(
    app: App, name: str | None, user: str | None, start: str, end: str | None,
    days_per_run: int, dry_run: bool, wait: bool, timeout: str, output: str | None,
) -> None:  # fmt: skip
    """Archive a long range of days, as runs of at most 366 days, ending today at the latest.

    \b
    Examples:
      kubectl archive backfill alice --start 2020-01-01 --end 2024-12-31
      kubectl archive backfill --user alice --start 2024-01-01 --days-per-run 31 --wait
    """
    from .. import manifests, select, validate
    from ..follow import parse_timeout

    select.check_choice(name, user)
    explicit_start = _check_day_syntax(start, "--start")
    explicit_end = _check_day_syntax(end, "--end")
    if explicit_start and explicit_end:
        validate.date_range(explicit_start, explicit_end, max_days=None)
    parse_timeout(timeout)
    if not 1 <= days_per_run <= validate.MAX_RUN_DAYS:
        raise BadInput(f'--days-per-run "{days_per_run}": must be 1 to 366; e.g. 31')
    schedule = select.schedule(app, name, user)
    time_zone = schedule["spec"].get("timeZone", "UTC")
    today = manifests.local_today(app.clock(), time_zone)
    first = validate.day(start, "--start", today)
    last = validate.day(end, "--end", today) if end else today - timedelta(days=1)
    ranges = validate.split_range(first, last, days_per_run)
    if end:
        validate.not_after_today(last, "--end", end, today, time_zone)
    runs = _create_runs(app, schedule, ranges, "backfill", dry_run, output)
    if wait:
        _follow(app, schedule, runs, timeout)


def runs_of(
    app: App, schedule: str | None, *, all_namespaces: bool, selector: str | None
) -> list[Obj]:
    """Runs (of one schedule, or all), newest first. One LIST call."""
    from ..client import RUNS

    namespace = None if all_namespaces else app.ns
    items = app.client.list(RUNS, namespace, selector).get("items") or []
    if schedule:
        items = [
            i
            for i in items
            if ((i.get("spec") or {}).get("scheduleRef") or {}).get("name") == schedule
        ]
    return sorted(
        items,
        key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"]),
        reverse=True,
    )


@click.command()
@click.argument("name", required=False, shell_complete=complete_schedule_names)
@user_option
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many runs.")
@all_namespaces_option
@selector_option
@kube_options
@output_option()
@no_headers_option
@pass_app
def history(
    app: App, name: str | None, user: str | None, limit: int | None, all_namespaces: bool,
    selector: str | None, output: str, no_headers: bool,
) -> None:  # fmt: skip
    """List runs of a schedule (or of all schedules), newest first.

    \b
    Examples:
      kubectl archive history alice
      kubectl archive history --user bob@example.com -o wide --limit 5
      kubectl archive history -A
    """
    from .. import select
    from ..output import documents
    from ..views import runs_table

    if name and user:
        raise BadInput("give a schedule NAME or --user, not both")
    if user:
        name = select.by_user(app, user)["metadata"]["name"]
    runs = runs_of(app, name, all_namespaces=all_namespaces, selector=selector)[:limit]
    if output in ("json", "yaml", "name"):
        click.echo(documents(runs, output, RUNS_NAME, single=False), nl=False)
        return
    if not runs:
        where = "in any namespace" if all_namespaces else f'in namespace "{app.ns}"'
        click.echo(f"No runs found {where}.", err=True)
        return
    text = runs_table(
        runs, app.clock(), wide=output == "wide", all_namespaces=all_namespaces,
        no_headers=no_headers, colour=app.colour,
    )  # fmt: skip
    click.echo(text, nl=False)


@click.command()
@click.argument("run", required=False)
@click.option(
    "--schedule", "schedule_name", metavar="NAME", help="The newest run of this schedule."
)
@user_option
@click.option("-f", "--follow", is_flag=True, help="Stream the log while the run goes on.")
@kube_options
@pass_app
def logs(
    app: App, run: str | None, schedule_name: str | None, user: str | None, follow: bool
) -> None:
    """Print a run's runner log (its Job's pod).

    A run that Failed or was Skipped before it had a Job (e.g. its range was after today)
    has no log: its reason and message are printed instead, and the exit code is that of
    trigger --wait (11 Failed, 12 Skipped).

    \b
    Examples:
      kubectl archive logs alice-manual-20241218-x7k2p
      kubectl archive logs --schedule alice -f
    """
    from archive_operator import constants as c

    from .. import select
    from ..client import PODS, RUNS
    from ..errors import ApiError

    if sum(bool(x) for x in (run, schedule_name, user)) != 1:
        raise BadInput("name a RUN, or pass --schedule NAME or --user USER for its newest run")
    if run:
        try:
            obj = app.client.get(RUNS, app.ns, run)
        except ApiError as exc:
            if exc.code != 404:
                raise
            from ..errors import suggest

            names = [
                r["metadata"]["name"]
                for r in runs_of(app, None, all_namespaces=False, selector=None)
            ]
            raise NotFound(
                f'run "{run}" not found in namespace "{app.ns}"{suggest(run, names)}'
            ) from exc
    else:
        target = schedule_name or select.by_user(app, str(user))["metadata"]["name"]
        found = runs_of(app, target, all_namespaces=False, selector=None)
        if not found:
            raise NotFound(f'schedule "{target}" has no runs in namespace "{app.ns}"')
        obj = found[0]
    run_name, status = obj["metadata"]["name"], obj.get("status") or {}
    job = status.get("jobName")
    if not job:
        phase = status.get("phase") or "Pending"
        if phase in ENDED_WITHOUT_JOB:
            # It ended before any Job was made (e.g. a range after today): no Job will come,
            # so say why it ended instead of pointing at a log that cannot exist.
            why = status.get("reason") or "no reason given"
            message = status.get("message") or "the run has no message"
            raise CliError(
                f'run "{run_name}" is {phase} and never had a Job, so there is no log: '
                f"{why}: {message}",
                ENDED_WITHOUT_JOB[phase],
            )
        raise NotFound(f'run "{run_name}" has no Job yet (phase {phase}); no log to show')
    pods = app.client.list(PODS, app.ns, f"{c.LABEL_JOB_NAME}={job}").get("items") or []
    if not pods:
        raise NotFound(
            f'run "{run_name}": the pods of Job "{job}" are gone (finished Jobs are removed after'
            " spec.runner.ttlSecondsAfterFinished); its counts stay in kubectl archive history"
        )
    newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    out = sys.stdout.buffer
    for chunk in app.client.pod_log(app.ns, newest["metadata"]["name"], c.RUNNER_CONTAINER, follow):
        out.write(chunk)
        out.flush()
