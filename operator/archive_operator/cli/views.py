"""Pure views of ArchiveSchedules and ArchiveRuns: table rows, the detail view, health.

They read the objects as the API returns them (dicts), tolerating any status field the
operator has not written yet: a missing value shows as ``<none>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .output import age, human_duration, paint, parse_time, relative, table, tone

Obj = dict[str, Any]
NONE = "<none>"
COUNT_ORDER = (
    "sourceObjects",
    "occurrences",
    "created",
    "updated",
    "unchanged",
    "changedKept",
    "sourceMissing",
    "failed",
)


def condition(obj: Obj, type_: str) -> Obj:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return {}


def describe_entry(item: Obj) -> str:
    if item.get("daily"):
        text = f"daily {item['daily'].get('at', '?')}"
    elif item.get("weekly"):
        weekly = item["weekly"]
        text = f"weekly {','.join(weekly.get('days') or [])} {weekly.get('at', '?')}"
    else:
        text = f"cron {item.get('cron', '?')}"
    jitter = item.get("jitterMinutes")
    return f"{text} (+0-{jitter}m)" if jitter else text


def entries_summary(schedule: Obj) -> str:
    status = schedule.get("status") or {}
    if status.get("schedulesSummary"):
        return str(status["schedulesSummary"])
    items = (schedule.get("spec") or {}).get("schedules") or []
    return ", ".join(f"{e.get('name')}={describe_entry(e)}" for e in items) or NONE


def counts_summary(counts: Obj | None) -> str:
    if not counts:
        return NONE
    keys = [k for k in COUNT_ORDER if k in counts] + sorted(set(counts) - set(COUNT_ORDER))
    return " ".join(f"{k}={counts[k]}" for k in keys)


def last_run_cell(schedule: Obj, now: datetime) -> str:
    """The last finished run of any trigger (status.lastRun) and when it completed: what the
    CRD's LAST RUN column of kubectl get shows too (.status.lastRun.completionTime). A run still
    going is in ACTIVE (-o wide), not here."""
    last = (schedule.get("status") or {}).get("lastRun") or {}
    if last.get("phase"):
        when = last.get("completionTime")
        return f"{last['phase']} {relative(when, now)}" if when else str(last["phase"])
    return NONE


# --- health ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    state: str  # healthy | unhealthy | unknown | suspended
    reason: str
    message: str


def health_of(schedule: Obj) -> Health:
    """Unhealthy when Ready or Healthy is False; unknown while the operator has not said."""
    blocked = condition(schedule, "Healthy")
    if blocked.get("status") == "False" and blocked.get("reason") == "RunsBlocked":
        # A run is stuck now, suspended or not: a manual run of a suspended schedule runs too.
        return Health("unhealthy", "RunsBlocked", blocked.get("message", ""))
    if (schedule.get("spec") or {}).get("suspend"):
        return Health("suspended", "Suspended", "scheduled runs are suspended")
    ready, healthy = condition(schedule, "Ready"), condition(schedule, "Healthy")
    for cond in (ready, healthy):
        if cond.get("status") == "False":
            return Health("unhealthy", cond.get("reason", ""), cond.get("message", ""))
    if ready.get("status") == "True" and healthy.get("status") == "True":
        return Health("healthy", healthy.get("reason", ""), healthy.get("message", ""))
    missing = healthy if healthy else ready
    return Health(
        "unknown", missing.get("reason", "NoStatus"), missing.get("message", "no status yet")
    )


# --- tables ---------------------------------------------------------------------------------


def _with_namespace(
    headers: list[str], rows: list[list[str]], objs: Sequence[Obj], show: bool
) -> None:
    if show:
        headers.insert(0, "NAMESPACE")
        for row, obj in zip(rows, objs, strict=True):
            row.insert(0, str(obj["metadata"].get("namespace", "")))


def schedules_table(
    schedules: Sequence[Obj],
    now: datetime,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    no_headers: bool = False,
    colour: bool = False,
) -> str:
    headers = [
        "NAME",
        "USER",
        "ENTRIES",
        "SUSPENDED",
        "READY",
        "HEALTHY",
        "LAST RUN",
        "NEXT RUN",
        "AGE",
    ]
    if wide:
        headers += ["TIME ZONE", "FAILURES", "ACTIVE", "LAST COUNTS"]
    rows = []
    for s in schedules:
        spec, status = s.get("spec") or {}, s.get("status") or {}
        row = [
            s["metadata"]["name"],
            str(spec.get("user", NONE)),
            entries_summary(s),
            str(bool(spec.get("suspend"))).lower(),
            condition(s, "Ready").get("status", NONE),
            condition(s, "Healthy").get("status", NONE),
            last_run_cell(s, now),
            relative(status.get("nextRunTime"), now),
            age(s["metadata"].get("creationTimestamp"), now),
        ]
        if wide:
            row += [
                str(spec.get("timeZone", "UTC")),
                str(status.get("consecutiveFailures", 0)),
                ",".join(status.get("activeRuns") or []) or NONE,
                counts_summary((status.get("lastRun") or {}).get("counts")),
            ]
        rows.append(row)
    _with_namespace(headers, rows, schedules, all_namespaces)
    return table(headers, rows, no_headers=no_headers, colour=colour)


def run_duration(run: Obj, now: datetime) -> str:
    status = run.get("status") or {}
    started = parse_time(status.get("startTime"))
    if started is None:
        return NONE
    finished = parse_time(status.get("completionTime")) or now
    return human_duration(finished - started)


def runs_table(
    runs: Sequence[Obj],
    now: datetime,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    no_headers: bool = False,
    colour: bool = False,
) -> str:
    headers = [
        "NAME",
        "SCHEDULE",
        "TRIGGER",
        "START",
        "END",
        "PHASE",
        "ARCHIVED",
        "DURATION",
        "AGE",
    ]
    if wide:
        headers += ["DRY RUN", "REQUESTED BY", "JOB", "REASON"]
    rows = []
    for r in runs:
        spec, status = r.get("spec") or {}, r.get("status") or {}
        row = [
            r["metadata"]["name"],
            str((spec.get("scheduleRef") or {}).get("name", NONE)),
            str(spec.get("trigger", "manual")),
            str(spec.get("start", NONE)),
            str(spec.get("end", NONE)),
            str(status.get("phase") or "Pending"),
            str(status.get("archived", NONE)),
            run_duration(r, now),
            age(r["metadata"].get("creationTimestamp"), now),
        ]
        if wide:
            row += [
                str(bool(spec.get("dryRun"))).lower(),
                str(spec.get("requestedBy") or NONE),
                str(status.get("jobName") or NONE),
                str(status.get("reason") or NONE),
            ]
        rows.append(row)
    _with_namespace(headers, rows, runs, all_namespaces)
    return table(headers, rows, no_headers=no_headers, colour=colour)


def health_table(
    schedules: Sequence[Obj],
    now: datetime,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    no_headers: bool = False,
    colour: bool = False,
) -> str:
    headers = ["NAME", "USER", "HEALTH", "REASON", "FAILURES", "LAST SUCCESS"]
    if wide:
        headers += ["LAST FAILURE", "MESSAGE"]
    rows = []
    for s in schedules:
        status, health = s.get("status") or {}, health_of(s)
        row = [
            s["metadata"]["name"],
            str((s.get("spec") or {}).get("user", NONE)),
            health.state,
            health.reason or NONE,
            str(status.get("consecutiveFailures", 0)),
            relative(status.get("lastSuccessfulTime"), now),
        ]
        if wide:
            row += [relative(status.get("lastFailureTime"), now), health.message or NONE]
        rows.append(row)
    _with_namespace(headers, rows, schedules, all_namespaces)
    return table(headers, rows, no_headers=no_headers, colour=colour)


# --- the detail view of one schedule ----------------------------------------------------------


def _place(spec: Obj, key: str) -> str:
    place = spec.get(key) or {}
    if place.get("caldav"):
        return f"CalDAV {_shown_url(place['caldav'].get('url'))}"
    if place.get("ics"):
        feed = place["ics"]
        if feed.get("urlSecretKey"):
            return f"iCalendar feed (URL in the credentials Secret, key {feed['urlSecretKey']})"
        return f"iCalendar feed {_shown_url(feed.get('url'))}"
    if place.get("graph"):
        g = place["graph"]
        calendar = f"calendar {g['calendar']}" if g.get("calendar") else "default calendar"
        return f"Microsoft 365 {g.get('mailbox')}, {calendar} (tenant {g.get('tenantId')})"
    if place.get("directory"):
        d = place["directory"]
        sub = f" (folder {d['subPath']})" if d.get("subPath") else ""
        return f"volume claim {d.get('claimName')}{sub}"
    return NONE


def _shown_url(url: str | None) -> str:
    """A URL as the plugin shows it: without user info, query or fragment (a private feed's
    token often sits in its query)."""
    if not url:
        return NONE
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    hidden = "?…" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{hidden}"


def _condition_line(obj: Obj, type_: str, colour: bool) -> str:
    cond = condition(obj, type_)
    if not cond:
        return NONE
    state = str(cond.get("status", "Unknown"))
    text = f"{paint(state, tone(state), colour)}  {cond.get('reason', '')}"
    return f"{text}: {cond['message']}" if cond.get("message") else text


def schedule_detail(schedule: Obj, now: datetime, *, colour: bool = False) -> str:
    meta, spec = schedule["metadata"], schedule.get("spec") or {}
    status = schedule.get("status") or {}
    last = status.get("lastRun") or {}
    window = spec.get("window") or {}
    offset, days = int(window.get("offsetDays", 0)), int(window.get("days", 1))
    credentials = (spec.get("credentialsSecretRef") or {}).get("name")
    fields = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace", "")),
        ("User", spec.get("user", NONE)),
        ("Time zone", spec.get("timeZone", "UTC")),
        ("Suspended", "yes" if spec.get("suspend") else "no"),
        ("Ready", _condition_line(schedule, "Ready", colour)),
        ("Healthy", _condition_line(schedule, "Healthy", colour)),
        ("Source", _place(spec, "source")),
        ("Destination", _place(spec, "destination")),
        ("Credentials", f"Secret {credentials}" if credentials else NONE),
        ("Window", f"{days} day(s) from offset {offset} of the run's day"),
    ]
    lines = [f"{label + ':':<14}{value}" for label, value in fields]
    lines.append("Entries:")
    by_name = {e.get("name"): e for e in status.get("schedules") or []}
    rows = []
    for item in spec.get("schedules") or []:
        observed = by_name.get(item.get("name"), {})
        rows.append(
            [
                str(item.get("name")),
                describe_entry(item),
                str(observed.get("cronJobName") or NONE),
                str(observed.get("nextRunTime") or NONE),
                relative(observed.get("nextRunTime"), now) if observed.get("nextRunTime") else "",
            ]
        )
    if rows:
        text = table(["NAME", "WHEN", "CRONJOB", "NEXT RUN", ""], rows, colour=colour)
        lines += ["  " + line for line in text.splitlines()]
    else:
        lines.append("  none (manual runs and backfills only)")
    if last.get("name"):
        phase = str(last.get("phase") or "")
        finished = last.get("completionTime")
        when = f" at {finished} ({relative(finished, now)})" if finished else ""
        lines.append(f"{'Last run:':<14}{last['name']} {paint(phase, tone(phase), colour)}{when}")
        lines.append(f"{'Last counts:':<14}{counts_summary(last.get('counts'))}")
    else:
        lines.append(f"{'Last run:':<14}{NONE}")
    lines.append(f"{'Active runs:':<14}{', '.join(status.get('activeRuns') or []) or NONE}")
    lines.append(
        f"{'Failures:':<14}{status.get('consecutiveFailures', 0)} in a row; last success "
        f"{relative(status.get('lastSuccessfulTime'), now)}, last failure "
        f"{relative(status.get('lastFailureTime'), now)}"
    )
    lines += coverage_lines(status.get("coverage"), now, colour)
    return "\n".join(lines) + "\n"


def coverage_lines(coverage: Obj | None, now: datetime, colour: bool) -> list[str]:
    """Which owed local days are archived, and the gaps with their reasons (none for
    schedules without entries, which owe no day)."""
    if not coverage:
        return []
    through = coverage.get("coveredThrough")
    missing = int(coverage.get("missingDays") or 0)
    summary = f"through {through}" if through else "nothing yet"
    summary += f" (owed since {coverage.get('since', NONE)})"
    if missing:
        summary += f"; {paint(f'{missing} day(s) missing', 'red', colour)}"
    lines = [f"{'Archived:':<14}{summary}"]
    gaps = coverage.get("gaps") or []
    if gaps:
        rows = [
            [
                str(g.get("start")),
                str(g.get("end")),
                str(g.get("reason", "")),
                relative(g.get("dueTime"), now) if g.get("dueTime") else "",
                str(g.get("message", "")),
            ]
            for g in gaps
        ]
        text = table(["FROM", "TO", "REASON", "DUE", "MESSAGE"], rows, colour=colour)
        lines.append("Gaps:")
        lines += ["  " + line for line in text.splitlines()]
    retry = coverage.get("nextCatchUpTime")
    if retry:
        failures = coverage.get("catchUpFailures", 0)
        lines.append(f"{'Catch-up:':<14}{failures} failed in a row; next {relative(retry, now)}")
    return lines
