"""``archive-runner``: the container's entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from .config import SETTINGS, load_config
from .contract import ENV_ALLOW_INSECURE_CREDENTIALS, ENV_DRY_RUN
from .errors import ExitCode, RunnerError
from .logs import get_logger, setup_logging, use_scrubber
from .redact import Scrubber
from .result import RunResult
from .run import archive, tty_progress, write_termination_message

F = TypeVar("F", bound=Callable[..., Any])


def _option(key: str, help_text: str) -> Callable[[F], F]:
    flag, env = SETTINGS[key]
    return click.option(flag, key, envvar=env, show_envvar=True, help=help_text)


@click.group()
def main() -> None:
    """Archive a user's calendar events into an archive calendar."""


@main.command()
@_option("user", "User whose calendar is archived (required).")
@_option("source_type", "caldav (default), ics or graph (Microsoft 365).")
@_option("source_url", "CalDAV collection URL; for ics an http(s) URL or a file path.")
@_option(
    "source_url_file",
    "For ics: a file holding the feed URL, when the URL is itself a secret (a token in its "
    "path or query); it is then shown as scheme://host/… only. Instead of --source-url.",
)
@_option("source_graph_tenant_id", "For graph: the app's directory (tenant) id.")
@_option("source_graph_client_id", "For graph: the app's application (client) id.")
@_option("source_graph_mailbox", "For graph: the mailbox (alice@contoso.com or user id).")
@_option("source_graph_calendar", "For graph: calendar name or id (default: the default one).")
@_option("destination_type", "caldav (default), directory or graph.")
@_option("destination_graph_tenant_id", "For graph: the archive app's tenant (default: source's).")
@_option("destination_graph_client_id", "For graph: archive app client id (default: source's).")
@_option("destination_graph_mailbox", "For graph: the archive's mailbox.")
@_option("destination_graph_calendar", "For graph: the archive calendar's name or id (required).")
@_option("graph_endpoint", "Microsoft Graph root (default https://graph.microsoft.com).")
@_option(
    "graph_authority_host", "Identity platform host (default https://login.microsoftonline.com)."
)
@_option("destination_url", "Archive CalDAV collection URL.")
@_option("destination_path", "Archive directory (destination type directory).")
@_option("start", "First local date to archive, YYYY-MM-DD (inclusive).")
@_option("end", "Last local date to archive, YYYY-MM-DD (inclusive).")
@_option(
    "window_offset_days",
    "Relative window: FIRST day = reference day + N (default 0); its last day, "
    "N + window days - 1, must be <= 0. E.g. -6 with 7 days: the week ending on the reference day.",
)
@_option("window_days", "Relative window: number of days from the first (>= 1, default 1).")
@_option(
    "reference_time",
    "RFC 3339 reference time for a relative window (default: the "
    "CronJob's scheduled minute from ARCHIVE_JOB_NAME, else now).",
)
@_option("time_zone", "IANA time zone of the dates (default UTC).")
@_option("recurrence", "occurrences (default) or series.")
@_option("on_change", "keep (default) or update archived copies whose source changed.")
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=True,
    envvar=ENV_DRY_RUN,
    show_envvar=True,
    help="Read and plan, write nothing.",
)
@_option("run_id", "Run id recorded in the result and in each copy (default: generated).")
@_option("termination_log", "Termination-message file (default /dev/termination-log).")
@_option("timeout", "HTTP timeout in seconds (default 30).")
@_option(
    "deadline",
    "Seconds from the start within which every wait for a server that asked to be retried "
    "(408/429/502/503/504/507, Retry-After) must end (default 600); past it the run exits 5.",
)
@click.option(
    "--allow-insecure-credentials",
    "allow_insecure_credentials",
    is_flag=True,
    envvar=ENV_ALLOW_INSECURE_CREDENTIALS,
    show_envvar=True,
    help="Send credentials over plain http:// to a host that is not loopback (refused "
    "otherwise). Only on a network you trust.",
)
def run(dry_run: bool, allow_insecure_credentials: bool, **options: str | None) -> None:
    """Archive one window; print one JSON result; exit 0/3/4/5 (see docs/runner.md)."""
    setup_logging()
    log = get_logger()
    termination_log = Path(options.get("termination_log") or "/dev/termination-log")
    now = clock()
    try:
        config = load_config(options, os.environ, now, dry_run, allow_insecure_credentials)
    except RunnerError as exc:
        log.error("bad configuration", extra={"error": str(exc)})
        result = RunResult(
            run_id=options.get("run_id") or "",
            user=options.get("user") or "",
            window=None,
            mode=options.get("recurrence") or "occurrences",
            on_change=options.get("on_change") or "keep",
            dry_run=dry_run,
            source="",
            destination="",
            status="failed",
            exit_code=int(exc.exit_code),
            message=str(exc),
        )
        _emit(result, termination_log, Scrubber())
        click.echo(f"archive-runner: {exc}", err=True)
        sys.exit(result.exit_code)
    scrubber = Scrubber(config.secret_values())
    use_scrubber(scrubber)
    try:
        result = archive(config, tty_progress(), now)
    except Exception as exc:  # a bug: still leave a result for the operator
        log.exception("unexpected error")
        result = RunResult(
            run_id=config.run_id,
            user=config.user,
            window=config.window,
            mode=config.recurrence,
            on_change=config.on_change,
            dry_run=config.dry_run,
            source="",
            destination="",
            status="failed",
            exit_code=int(ExitCode.CRASHED),
            message=f"unexpected error: {type(exc).__name__}",
        )
    _emit(result, config.termination_log, scrubber)
    sys.exit(result.exit_code)


def clock() -> datetime:
    """The run's time: it places a relative window, and what is past (history.py)."""
    return datetime.now(UTC)


def _emit(result: RunResult, termination_log: Path, scrubber: Scrubber) -> None:
    """The result on stdout and its compact copy, with the run's secrets scrubbed out."""
    click.echo(result.to_json(scrubber))
    write_termination_message(termination_log, result.termination_message(scrubber))
