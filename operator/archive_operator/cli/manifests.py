"""Pure builders of the objects and patches the plugin sends (no I/O, no clock of their own)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from archive_operator import constants as c

from .errors import BadInput, NotFound, suggest

Obj = dict[str, Any]

# A generated name is the prefix plus 5 random characters; Kubernetes names a Job after its
# run, and a Job name must stay a 63-character label value.
MAX_RUN_PREFIX = 63 - 5


def schedule_manifest(
    base: Obj | None,
    *,
    name: str | None,
    namespace: str | None,
    spec: Obj,
) -> Obj:
    """An ArchiveSchedule: ``base`` (from -f) with the given spec fields laid over it."""
    body: Obj = dict(base or {})
    body["apiVersion"] = c.API_VERSION
    body["kind"] = c.SCHEDULE_KIND
    metadata = dict(body.get("metadata") or {})
    if name:
        metadata["name"] = name
    if namespace:
        metadata["namespace"] = namespace
    body["metadata"] = metadata
    merged = dict(body.get("spec") or {})
    merged.update({k: v for k, v in spec.items() if v is not None})
    body["spec"] = merged
    return body


def graph_spec(app: tuple[str, str] | None, place: tuple[str, str | None]) -> Obj:
    """spec.source.graph / spec.destination.graph: the app (tenant, client ID) and the mailbox
    and calendar, as --graph-tenant / --graph-client-id and MAILBOX[/CALENDAR] give them."""
    if app is None:
        raise BadInput(
            "--source-graph / --destination-graph need --graph-tenant and --graph-client-id: "
            "the app registration that signs in (its secret goes in the --credentials Secret)"
        )
    graph: Obj = {"tenantId": app[0], "clientId": app[1], "mailbox": place[0]}
    if place[1] is not None:
        graph["calendar"] = place[1]
    return graph


def source_spec(
    caldav: str | None,
    ics: str | None,
    graph: tuple[str, str | None] | None = None,
    app: tuple[str, str] | None = None,
) -> Obj | None:
    if sum(x is not None for x in (caldav, ics, graph)) > 1:
        raise BadInput("--source, --source-ics and --source-graph: give one source, not more")
    if caldav:
        return {"caldav": {"url": caldav}}
    if ics:
        return {"ics": {"url": ics}}
    if graph:
        return {"graph": graph_spec(app, graph)}
    return None


def destination_spec(
    caldav: str | None,
    claim: tuple[str, str] | None,
    graph: tuple[str, str | None] | None = None,
    app: tuple[str, str] | None = None,
) -> Obj | None:
    if sum(x is not None for x in (caldav, claim, graph)) > 1:
        raise BadInput(
            "--destination, --destination-pvc and --destination-graph: give one destination, "
            "not more"
        )
    if caldav:
        return {"caldav": {"url": caldav}}
    if claim:
        directory: Obj = {"claimName": claim[0]}
        if claim[1]:
            directory["subPath"] = claim[1]
        return {"directory": directory}
    if graph:
        return {"graph": graph_spec(app, graph)}
    return None


def entry(
    name: str,
    *,
    daily_at: str | None = None,
    weekly_days: list[str] | None = None,
    weekly_at: str | None = None,
    cron: str | None = None,
    jitter_minutes: int | None = None,
) -> Obj:
    """One spec.schedules[] item; the caller has checked exactly one kind was chosen."""
    item: Obj = {"name": name}
    if daily_at is not None:
        item["daily"] = {"at": daily_at}
    elif weekly_days is not None:
        item["weekly"] = {"days": weekly_days, "at": weekly_at}
    else:
        item["cron"] = cron
    if jitter_minutes:
        item["jitterMinutes"] = jitter_minutes
    return item


def with_entry(entries: list[Obj], new: Obj) -> tuple[list[Obj], bool]:
    """The entries with ``new`` replacing the entry of its name, or appended; True if replaced."""
    replaced = any(e.get("name") == new["name"] for e in entries)
    if replaced:
        return [new if e.get("name") == new["name"] else e for e in entries], True
    if len(entries) >= 16:
        raise BadInput(
            "a schedule has at most 16 entries; remove one with kubectl archive unschedule"
        )
    return [*entries, new], False


def without_entry(entries: list[Obj], name: str, schedule: str) -> list[Obj]:
    names = [str(e.get("name")) for e in entries]
    if name not in names:
        have = ", ".join(names) or "none"
        raise NotFound(
            f'schedule "{schedule}" has no entry "{name}" (entries: {have}){suggest(name, names)}'
        )
    return [e for e in entries if e.get("name") != name]


def entries_patch(schedule: Obj, entries: list[Obj]) -> Obj:
    """A merge patch that sets spec.schedules, failing with 409 if the schedule changed since."""
    return {
        "metadata": {"resourceVersion": schedule["metadata"]["resourceVersion"]},
        "spec": {"schedules": entries},
    }


def local_today(now: datetime, time_zone: str) -> date:
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(time_zone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def yesterday(now: datetime, time_zone: str) -> date:
    return local_today(now, time_zone) - timedelta(days=1)


def run_prefix(schedule_name: str, trigger: str, start: date) -> str:
    tail = f"-{trigger}-{start.strftime('%Y%m%d')}-"
    return schedule_name[: MAX_RUN_PREFIX - len(tail)].rstrip("-.") + tail


def run_manifest(
    schedule: Obj,
    start: date,
    end: date,
    *,
    trigger: str,
    dry_run: bool,
    requested_by: str | None,
) -> Obj:
    """An ArchiveRun of ``schedule`` (as read from the API), owned by it."""
    meta = schedule["metadata"]
    spec: Obj = {
        "scheduleRef": {"name": meta["name"]},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "trigger": trigger,
        "dryRun": dry_run,
    }
    if requested_by:
        spec["requestedBy"] = requested_by[:253]
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.RUN_KIND,
        "metadata": {
            "generateName": run_prefix(meta["name"], trigger, start),
            "namespace": meta.get("namespace"),
            "labels": {
                c.LABEL_SCHEDULE: c.label_value(meta["name"]),
                c.LABEL_USER: c.label_value(schedule["spec"]["user"]),
                c.LABEL_TRIGGER: trigger,
            },
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": c.SCHEDULE_KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "spec": spec,
    }
