"""One archive run: read the source once, read the archive once, write only what is needed.

All I/O of a run is here and in backends/; the decisions are in convert.py and engine.py.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from . import cache, ical
from .backends.base import (
    ArchivedCopy,
    Destination,
    PreconditionFailed,
    ReadProblem,
    Source,
    SourceObject,
    WriteError,
)
from .backends.caldav import CalDavDestination, CalDavSource
from .backends.directory import DirectoryDestination
from .backends.graph import GraphSession
from .backends.graph_calendars import GraphDestination, GraphSource
from .backends.http import RequestCounter, RetryPolicy, make_client, tls_context, trusting_nothing
from .backends.ics import IcsSource
from .config import Credentials, RunConfig
from .convert import build_items
from .engine import Lookup, Plan, Rules, Step, decide, plan
from .errors import ExitCode, RetryLaterError, RunnerError, UnreachableError
from .graph_config import GraphSide
from .incremental import BuildItems, BuiltItems, CacheSession, Reads
from .logs import get_logger
from .redact import redact_url
from .result import Counts, ObjectError, RunResult
from .window import Window

ProgressFn = Callable[[int, int], None]
WRITES = ("create", "update")

# A 401/403 from an archive that got no credentials because the source's were kept to the
# source's origin (config.load_config).
WITHHELD_HINT = (
    "it got no credentials: the source's are sent only to the source's origin (scheme, host, "
    "port); give the archive its own as destination-username/destination-password or "
    "destination-token in the credentials Secret (ARCHIVE_DESTINATION_USERNAME/_PASSWORD/_TOKEN)"
)


def open_backends(
    config: RunConfig, counter: RequestCounter, retry: RetryPolicy | None = None
) -> tuple[Source, Destination]:
    """``retry``: when a server's "not now" is waited out (backends/http.py decides)."""
    source: Source
    tls = functools.cache(tls_context)  # built once, by the first https client, if there is one

    def client_for(credentials: Credentials, url: str, redirects: bool = False) -> httpx.Client:
        """``redirects``: whether its requests follow redirects (a feed's: maybe to https)."""
        plain = urlsplit(url).scheme == "http" and not redirects
        context = trusting_nothing() if plain else tls()
        return make_client(credentials, config.timeout_seconds, counter, url, context)

    sessions: list[GraphSession] = []

    def graph_session(side: GraphSide) -> GraphSession:
        """One token per app and endpoints: a source and an archive of one app share it. The
        token is sent per request (GraphSession), so the clients get no credentials."""
        for other in sessions:
            if (other.side.app, other.side.endpoint, other.side.authority_host) == (
                side.app, side.endpoint, side.authority_host
            ):  # fmt: skip
                return other.sharing(side)
        graph = client_for(Credentials(), side.endpoint)
        # The identity platform's requests (discovery, tokens) are not the calendars': they are
        # not counted in the run's http_requests / http_writes.
        identity = make_client(
            Credentials(), config.timeout_seconds, RequestCounter(), side.authority_host, tls()
        )
        sessions.append(GraphSession(side, graph, identity, retry))
        return sessions[-1]

    if config.source_type == "graph":
        assert config.source_graph is not None
        source = GraphSource(graph_session(config.source_graph))
    elif config.source_type == "caldav":
        client = client_for(config.source_credentials, config.source_url)
        source = CalDavSource(config.source_url, client, retry)
    else:
        is_url = config.source_url.startswith(("http://", "https://"))
        feed_client = (
            client_for(config.source_credentials, config.source_url, redirects=True)
            if is_url
            else None
        )
        source = IcsSource(
            config.source_url, feed_client, secret=config.source_url_secret, retry=retry
        )
    destination: Destination
    if config.destination_type == "graph":
        assert config.destination_graph is not None
        session = graph_session(config.destination_graph)
        destination = GraphDestination(session, config.window.zone.key)
    elif config.destination_type == "caldav":
        assert config.destination_url is not None
        client = client_for(config.destination_credentials, config.destination_url)
        if config.destination_credentials_withheld:
            destination = CalDavDestination(config.destination_url, client, WITHHELD_HINT, retry)
        else:
            destination = CalDavDestination(config.destination_url, client, retry=retry)
    else:
        assert config.destination_path is not None
        destination = DirectoryDestination(config.destination_path)
    return source, destination


def new_result(config: RunConfig) -> RunResult:
    source = redact_url(config.source_url, secret=config.source_url_secret)
    return RunResult(
        run_id=config.run_id,
        user=config.user,
        window=config.window,
        mode=config.recurrence,
        on_change=config.on_change,
        dry_run=config.dry_run,
        source=f"{config.source_type}:{source}",
        destination=(
            f"{config.destination_type}:{redact_url(config.destination_url or '')}"
            if config.destination_type in ("caldav", "graph")
            else f"directory:{config.destination_path}"
        ),
    )


def archive(
    config: RunConfig, progress: ProgressFn | None = None, now: datetime | None = None
) -> RunResult:
    """Run the archive and return its result (never raises for expected failures). ``now``:
    the run's time (default: the clock), from which the past that no run may change begins."""
    log = get_logger()
    started = time.monotonic()
    result = new_result(config)
    counter = RequestCounter()
    # Every wait for a server that asked to be retried must end within the run's deadline.
    retry = RetryPolicy(deadline=started + config.deadline_seconds)
    source, destination = open_backends(config, counter, retry)
    log.info(
        "run started",
        extra={
            "run_id": config.run_id,
            "user": config.user,
            "source": result.source,
            "destination": result.destination,
            "window": result.window_dict(),
            "mode": config.recurrence,
            "on_change": config.on_change,
            "dry_run": config.dry_run,
            # Which kind of credentials each side gets (never their values).
            "source_auth": config.source_credentials.kind,
            # A source URL that is a secret (--source-url-file) is shown as scheme://host/….
            "source_url_from": "file" if config.source_url_secret else "setting",
            "destination_auth": (
                "none (the source's are not sent to another origin)"
                if config.destination_credentials_withheld
                else config.destination_credentials.kind
            ),
        },
    )
    if not config.source_url_secret and "?" in config.source_url:
        log.warning(
            "source URL has a query",
            extra={
                "hint": "it is not shown, but the URL is in the run's settings (the pod spec): "
                "if the query holds a token, give the URL as a secret with --source-url-file / "
                "ARCHIVE_SOURCE_URL_FILE (ArchiveSchedule: the credentials Secret's key named "
                "by spec.source.ics.urlSecretKey)"
            },
        )
    aborted: RunnerError | None = None
    session: CacheSession | None = None
    try:
        source_id = ical.digest(source.identity, length=16)
        rules = Rules(config.window, config.on_change, source_id, now or datetime.now(UTC))

        def build(objects: list[SourceObject], copies: dict[str, ArchivedCopy]) -> BuiltItems:
            return build_items(
                objects, config.window, config.recurrence, source_id, config.run_id, copies
            )

        session = open_cache(config, source, destination, source_id)
        changes = session.changes() if session is not None else None
        if session is not None and changes is not None:
            reads = session.read(changes, build, source_id)
        else:
            token = session.source_token() if session is not None else None
            reads = _read_everything(source, destination, config.window, build, token)
        _add_read_problems(result, reads.problems)
        carried = sum(len(names) for names in reads.untouched.values())
        result.counts.source_objects = len(reads.objects) + len(reads.untouched)
        result.counts.occurrences = len(reads.items) + carried
        result.counts.unchanged += carried - len(reads.untouched_kept)
        result.counts.changed_kept += len(reads.untouched_kept)
        result.errors.extend(reads.errors)
        result.counts.failed += len(reads.errors)
        log.info(
            "source read",
            extra={
                "objects": len(reads.objects),
                "items": len(reads.items),
                "unreadable": len(reads.errors),
                "incomplete": len(reads.problems),
                "not_read_unchanged": len(reads.untouched),
            },
        )
        the_plan = plan(reads.items, reads.copies, rules)
        _count_plan(result.counts, the_plan, config.dry_run)
        result.source_missing = the_plan.source_missing
        log.info(
            "plan",
            extra={
                "create": len(the_plan.create),
                "update": len(the_plan.update),
                "unchanged": len(the_plan.unchanged),
                "changed_kept": len(the_plan.changed_kept),
                "source_missing": len(the_plan.source_missing),
            },
        )
        if not config.dry_run and the_plan.writes:
            aborted = _write_all(the_plan, destination, rules, result, progress)
        complete = aborted is None and not result.counts.failed and not config.dry_run
        if session is not None and complete:
            copies = cache.copies_by_source(the_plan.resolved)
            kept = reads.untouched_kept | {item.name for item in the_plan.changed_kept}
            session.record(reads.source_token, {**reads.untouched, **copies}, sorted(kept))
    except RunnerError as exc:
        aborted = exc
    finally:
        source.close()
        destination.close()
    result.http_requests = counter.requests
    result.duration_seconds = time.monotonic() - started
    if session is not None:
        result.run_cache = {"read": session.read_note, "written": session.write_note}
    _finish(result, aborted)
    log.info(
        "run finished",
        extra={
            "status": result.status,
            "exit_code": result.exit_code,
            "counts": vars(result.counts),
            "http_requests": result.http_requests,
            "http_writes": counter.writes,
        },
    )
    return result


def open_cache(
    config: RunConfig, source: Source, destination: Destination, source_id: str
) -> CacheSession | None:
    """The run cache, for CalDAV to CalDAV (the only pair with sync tokens on both sides)."""
    if not (isinstance(source, CalDavSource) and isinstance(destination, CalDavDestination)):
        return None
    scope = cache.scope_of(source_id, config.window, config.recurrence, config.on_change)
    key = cache.key_of(config.secret_values(), source_id)
    return CacheSession.open(source, destination, scope, key)


def _read_everything(
    source: Source,
    destination: Destination,
    window: Window,
    build: BuildItems,
    source_token: str | None,
) -> Reads:
    """The full path: the source's objects and the archive's copies in the window."""
    # The two reads are independent: overlap them (each side has its own connection).
    with ThreadPoolExecutor(max_workers=2) as pool:
        archived = pool.submit(destination.load, window)
        source_read = source.fetch(window)
        archive_read = archived.result()
    items, errors = build(source_read.objects, archive_read.copies)
    problems = [*source_read.problems, *archive_read.problems]
    return Reads(source_read.objects, archive_read.copies, items, errors, problems, source_token)


def _add_read_problems(result: RunResult, problems: list[ReadProblem]) -> None:
    """What a server left out of a read: each is an error, so the run is partial, not a
    success over an incomplete archive."""
    result.counts.failed += len(problems)
    result.errors.extend(
        ObjectError(message=p.message, href=p.href, http_status=p.http_status) for p in problems
    )


def _count_plan(counts: Counts, the_plan: Plan, dry_run: bool) -> None:
    counts.unchanged += len(the_plan.unchanged)
    counts.changed_kept += len(the_plan.changed_kept)
    counts.source_missing += len(the_plan.source_missing)
    if dry_run:  # what a real run would write
        counts.created += len(the_plan.create)
        counts.updated += len(the_plan.update)


def _write_all(
    the_plan: Plan,
    destination: Destination,
    rules: Rules,
    result: RunResult,
    progress: ProgressFn | None,
) -> RunnerError | None:
    groups = the_plan.groups
    for done, group in enumerate(groups):
        try:
            _write_group(group, destination, rules, result)
        except (UnreachableError, RetryLaterError) as exc:
            # The server went away, or keeps asking to come back later past the run's
            # deadline: the rest would fail too. Count them and stop; a re-run (the Job's
            # retry, exit 5) completes the window without duplicates.
            remaining = [step.item for rest in groups[done:] for step in rest]
            result.counts.failed += len(remaining)
            result.errors.extend(
                ObjectError(message=f"not written: {exc}", uid=i.uid, href=i.name)
                for i in remaining
            )
            return exc
        if progress is not None:
            progress(done + 1, len(groups))
    return None


def _write_group(
    group: list[Step], destination: Destination, rules: Rules, result: RunResult
) -> None:
    """Make one source item's writes in order, stopping at the first that fails. A create
    that finds its name taken (archived outside the queried range, or by a concurrent run) is
    decided again against what is there; a version to look up is simply created."""
    counts = result.counts
    pending: list[Step | Lookup] = list(reversed(group))  # a stack
    item = group[0].item
    try:
        while pending:
            step = pending.pop()
            if isinstance(step, Lookup):
                step = Step("create", step.item)
            item = step.item
            if step.decision == "unchanged":
                counts.unchanged += 1
            elif step.decision == "changed_kept":
                counts.changed_kept += 1
            elif step.decision == "update":
                assert step.copy is not None
                destination.update(item.name, item.data, step.copy.etag)
                counts.updated += 1
            else:
                try:
                    destination.create(item.name, item.data)
                    counts.created += 1
                except PreconditionFailed:
                    existing = destination.get(item.name)
                    if existing is None:
                        raise WriteError(f"{item.name}: exists but cannot be read back") from None
                    pending.extend(reversed(decide(item, existing, rules)))
    except WriteError as exc:
        counts.failed += 1
        result.errors.append(
            ObjectError(message=str(exc), uid=item.uid, href=item.name, http_status=exc.http_status)
        )
        for rest in pending:  # the group's later writes depend on this one
            if isinstance(rest, Lookup) or rest.decision in WRITES:
                counts.failed += 1
                result.errors.append(
                    ObjectError(
                        message=f"not written: {item.name}, written before it, failed",
                        uid=rest.item.uid,
                        href=rest.item.name,
                    )
                )


def _finish(result: RunResult, aborted: RunnerError | None) -> None:
    counts = result.counts
    progressed = counts.created + counts.updated + counts.unchanged + counts.changed_kept
    if aborted is not None:
        result.message = str(aborted)
        result.exit_code = int(aborted.exit_code)
        result.status = "partial" if progressed else "failed"
    elif counts.failed:
        result.status = "partial"
        result.exit_code = int(ExitCode.PARTIAL)
    else:
        result.status = "succeeded"
        result.exit_code = int(ExitCode.SUCCEEDED)


def write_termination_message(path: Path, message: str) -> None:
    """Kubernetes reads this file into the Pod status; skip quietly where it cannot exist."""
    log = get_logger()
    if not path.parent.is_dir():
        log.info("termination message skipped", extra={"path": str(path), "reason": "no directory"})
        return
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as exc:
        log.warning(
            "termination message not written", extra={"path": str(path), "error": exc.strerror}
        )


def tty_progress() -> ProgressFn | None:
    """Progress on an interactive terminal only (logs stay JSON lines)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            end = "\n" if done == total else ""
            sys.stderr.write(f"\rwriting {done}/{total}{end}")
            sys.stderr.flush()

    return show
