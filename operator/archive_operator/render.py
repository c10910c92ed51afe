"""Pure rendering: an ArchiveSchedule and the operator settings → the desired CronJobs.

One CronJob per schedule entry. Everything the runner needs is passed as environment variables
(the runner contract, see docs/operator.md); credentials stay in the Secret, which is mounted
into the pod and never read by the operator. So does a feed URL that is itself a secret
(spec.source.ics.urlSecretKey): the runner is told only which file of the mount holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from archive_runner import contract

from . import constants as c
from .api.run import ArchiveRun
from .api.schedule import (
    GRAPH_AUTHORITY_HOST,
    GRAPH_ENDPOINT,
    ArchiveSchedule,
    ArchiveScheduleSpec,
    GraphCalendar,
    ScheduleEntry,
)
from .errors import SpecError
from .schedule import (
    CronError,
    CronSchedule,
    daily_cron,
    fires,
    jitter_minutes,
    load_time_zone,
    never_fires_explanation,
    parse_cron,
    weekly_cron,
)
from .settings import Settings

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ResolvedEntry:
    """A schedule entry with everything derived from it."""

    entry: ScheduleEntry
    index: int
    cron: str
    day_shift: int
    cronjob_name: str
    parsed: CronSchedule  # ``cron``, parsed once


@dataclass(frozen=True)
class Resolved:
    """A schedule with everything derived from its spec, once per reconcile and passed down:
    its time zone and its entries (cron, jitter's day shift, CronJob name, parsed cron)."""

    time_zone: ZoneInfo
    entries: tuple[ResolvedEntry, ...]


def check_time_zone(schedule: ArchiveSchedule) -> ZoneInfo:
    try:
        return load_time_zone(schedule.spec.time_zone)
    except ValueError:
        raise SpecError(
            "InvalidTimeZone",
            "spec.timeZone",
            schedule.spec.time_zone,
            "is not a time zone the time-zone database knows",
            "use an IANA name such as Europe/London, America/New_York or UTC",
        ) from None


def check_window(schedule: ArchiveSchedule) -> None:
    """The CRD's rule on spec.window, again: a schedule stored before the rule existed would
    otherwise make every scheduled run fail with the runner's configuration error."""
    window = schedule.spec.window
    last = contract.window_last_offset(window.offset_days, window.days)
    if last > 0:
        raise SpecError(
            "InvalidWindow",
            "spec.window",
            {"offsetDays": window.offset_days, "days": window.days},
            f"ends {last} day(s) after the run's day (the last day archived is "
            "offsetDays + days - 1; it cannot be in the future)",
            f"use offsetDays {1 - window.days} or less with days {window.days}; "
            "for the past week use offsetDays: -6, days: 7",
        )


def check_source(schedule: ArchiveSchedule) -> None:
    """The CRD's rules on the calendars, again: spec.source.ics.urlSecretKey is a key of the
    credentials Secret, and a graph source signs in with the Secret's client-secret or
    client-certificate, so without a Secret there is nothing to read them from; a graph
    archive takes occurrences only; a graph source and archive share one cloud (the runner has
    one Graph endpoint)."""
    spec = schedule.spec
    if spec.source.graph is not None and spec.credentials_secret_ref is None:
        raise SpecError(
            "InvalidSource",
            "spec.source.graph",
            spec.source.graph.mailbox,
            "signs in as an app, but spec.credentialsSecretRef is not set",
            "set spec.credentialsSecretRef to the Secret that holds the app's client-secret "
            "(or client-certificate)",
        )
    if spec.destination.graph is not None and spec.recurrence == "series":
        raise SpecError(
            "InvalidDestination",
            "spec.recurrence",
            "series",
            "cannot be archived into spec.destination.graph yet (the runner writes no copy "
            "of a whole series to Microsoft 365)",
            "use recurrence: occurrences",
        )
    read_from, write_to = spec.source.graph, spec.destination.graph
    if read_from is not None and write_to is not None:
        source_cloud = (read_from.endpoint, read_from.authority_host)
        archive_cloud = (write_to.endpoint, write_to.authority_host)
        if source_cloud != archive_cloud:
            raise SpecError(
                "InvalidDestination",
                "spec.destination.graph",
                " and ".join(archive_cloud),
                f"is another cloud than spec.source.graph's ({' and '.join(source_cloud)})",
                "give both the same endpoint and authorityHost",
            )
    key = spec.source.url_secret_key
    if key is not None and spec.credentials_secret_ref is None:
        raise SpecError(
            "InvalidSource",
            "spec.source.ics.urlSecretKey",
            key,
            "names a key of the credentials Secret, but spec.credentialsSecretRef is not set",
            "set spec.credentialsSecretRef to the Secret that holds the feed URL under that key",
        )


def resolve_entry(schedule: ArchiveSchedule, index: int, entry: ScheduleEntry) -> ResolvedEntry:
    meta, spec = schedule.metadata, schedule.spec
    jitter = jitter_minutes(meta.namespace, meta.name, spec.user, entry.name, entry.jitter_minutes)
    if entry.daily is not None:
        derived = daily_cron(entry.daily.at, jitter)
    elif entry.weekly is not None:
        derived = weekly_cron(list(entry.weekly.days), entry.weekly.at, jitter)
    else:
        assert entry.cron is not None
        try:
            parsed = parse_cron(entry.cron)
        except CronError as exc:
            raise SpecError(
                "InvalidSchedule",
                f"spec.schedules[{index}].cron",
                entry.cron,
                f"is not a schedule Kubernetes accepts ({exc})",
                "write five fields within minute 0-59, hour 0-23, day 1-31, month 1-12, "
                'weekday 0-6 (e.g. "30 2 * * 1-5") or a macro such as @daily',
            ) from None
        if not fires(parsed):
            problem, fix = never_fires_explanation(parsed)
            raise SpecError(
                "CronNeverFires", f"spec.schedules[{index}].cron", entry.cron, problem, fix
            )
        name = c.cronjob_name(meta.name, entry.name)
        return ResolvedEntry(entry, index, entry.cron, 0, name, parsed)
    return ResolvedEntry(
        entry,
        index,
        derived.cron,
        derived.day_shift,
        c.cronjob_name(meta.name, entry.name),
        parse_cron(derived.cron),
    )


def resolve(schedule: ArchiveSchedule) -> Resolved:
    """Validate what the API could not (time zone, window, cron values) and derive everything
    the reconcile needs from the spec, once.

    Raises SpecError for the first problem found.
    """
    zone = check_time_zone(schedule)
    check_window(schedule)
    check_source(schedule)
    entries = tuple(resolve_entry(schedule, i, e) for i, e in enumerate(schedule.spec.schedules))
    return Resolved(zone, entries)


def resolve_entries(schedule: ArchiveSchedule) -> list[ResolvedEntry]:
    """The entries of :func:`resolve` (SpecError for the first problem found)."""
    return list(resolve(schedule).entries)


def labels_for(schedule: ArchiveSchedule, entry_name: str) -> dict[str, str]:
    return {
        **c.common_labels(),
        c.LABEL_SCHEDULE: c.label_value(schedule.metadata.name),
        c.LABEL_USER: c.label_value(schedule.spec.user),
        c.LABEL_ENTRY: entry_name,
    }


def involved_object(kind: str, name: str, namespace: str, uid: str = "") -> Manifest:
    """What an Event is about: one of the operator's own objects (c.SCHEDULE_KIND, c.RUN_KIND)."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
    }


def involved_schedule(schedule: ArchiveSchedule) -> Manifest:
    meta = schedule.metadata
    return involved_object(c.SCHEDULE_KIND, meta.name, meta.namespace, meta.uid)


def involved_run(run: ArchiveRun) -> Manifest:
    return involved_object(c.RUN_KIND, run.metadata.name, run.metadata.namespace, run.metadata.uid)


def owner_reference(schedule: ArchiveSchedule) -> Manifest:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.SCHEDULE_KIND,
        "name": schedule.metadata.name,
        "uid": schedule.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _env(name: str, value: str) -> Manifest:
    return {"name": name, "value": value}


def _job_name_ref() -> Manifest:
    return {"fieldRef": {"fieldPath": f"metadata.labels['{c.LABEL_JOB_NAME}']"}}


def _source_url_env(spec: ArchiveScheduleSpec) -> Manifest:
    """The source URL, or, when it is a secret, the file of the mounted credentials Secret that
    holds it: the URL itself is then in no pod spec and no environment, and the operator never
    reads it (only the kubelet does, mounting the Secret)."""
    key = spec.source.url_secret_key
    if key is None:
        assert spec.source.url is not None
        return _env(contract.ENV_SOURCE_URL, spec.source.url)
    if spec.credentials_secret_ref is None:  # the CRD and check_source refuse it first
        raise SpecError(
            "InvalidSource",
            "spec.source.ics.urlSecretKey",
            key,
            "needs spec.credentialsSecretRef",
            "set it to the Secret that holds the feed URL",
        )
    return _env(contract.ENV_SOURCE_URL_FILE, f"{c.CREDENTIALS_DIR}/{key}")


def _graph_env(
    graph: GraphCalendar, tenant: str, client: str, mailbox: str, calendar: str
) -> list[Manifest]:
    """One side's Microsoft Graph calendar, under that side's variable names."""
    env = [
        _env(tenant, graph.tenant_id),
        _env(client, graph.client_id),
        _env(mailbox, graph.mailbox),
    ]
    if graph.calendar is not None:
        env.append(_env(calendar, graph.calendar))
    return env


def _graph_cloud_env(spec: ArchiveScheduleSpec) -> list[Manifest]:
    """The cloud of the Graph side(s): one, which the CRD requires both sides to share. Only a
    national cloud's is written, so a global-cloud schedule's Job template names no host."""
    graph = spec.source.graph or spec.destination.graph
    if graph is None:
        return []
    env = []
    if graph.endpoint != GRAPH_ENDPOINT:
        env.append(_env(contract.ENV_GRAPH_ENDPOINT, graph.endpoint))
    if graph.authority_host != GRAPH_AUTHORITY_HOST:
        env.append(_env(contract.ENV_GRAPH_AUTHORITY_HOST, graph.authority_host))
    return env


def _calendar_env(spec: ArchiveScheduleSpec) -> list[Manifest]:
    env = [
        _env(contract.ENV_USER, spec.user),
        _env(contract.ENV_SOURCE_TYPE, spec.source.type),
    ]
    if spec.source.graph is not None:
        env += _graph_env(
            spec.source.graph,
            contract.ENV_SOURCE_GRAPH_TENANT_ID,
            contract.ENV_SOURCE_GRAPH_CLIENT_ID,
            contract.ENV_SOURCE_GRAPH_MAILBOX,
            contract.ENV_SOURCE_GRAPH_CALENDAR,
        )
    else:
        env.append(_source_url_env(spec))
    env.append(_env(contract.ENV_DESTINATION_TYPE, spec.destination.type))
    if spec.destination.caldav is not None:
        env.append(_env(contract.ENV_DESTINATION_URL, spec.destination.caldav.url))
    elif spec.destination.graph is not None:
        env += _graph_env(
            spec.destination.graph,
            contract.ENV_DESTINATION_GRAPH_TENANT_ID,
            contract.ENV_DESTINATION_GRAPH_CLIENT_ID,
            contract.ENV_DESTINATION_GRAPH_MAILBOX,
            contract.ENV_DESTINATION_GRAPH_CALENDAR,
        )
    else:
        assert spec.destination.directory is not None
        sub_path = spec.destination.directory.sub_path.strip("/")
        path = f"{c.ARCHIVE_MOUNT}/{sub_path}" if sub_path else c.ARCHIVE_MOUNT
        env.append(_env(contract.ENV_DESTINATION_PATH, path))
    return env + _graph_cloud_env(spec)


def _credentials_env(spec: ArchiveScheduleSpec) -> list[Manifest]:
    # The result's compact copy goes to the container's terminationMessagePath (the default,
    # named explicitly so a runtime that maps container paths maps this one too).
    env = [_env(contract.ENV_TERMINATION_LOG, c.TERMINATION_LOG)]
    if spec.credentials_secret_ref is None:
        return env
    env.append(_env(contract.ENV_CREDENTIALS_DIR, c.CREDENTIALS_DIR))
    # Only when opted in: the runner's default is to refuse, and schedules that do not opt in
    # keep the very Job template they had (no CronJob rewrite on upgrade).
    if spec.allow_insecure_credentials:
        env.append(_env(contract.ENV_ALLOW_INSECURE_CREDENTIALS, "true"))
    return env


def runner_env(schedule: ArchiveSchedule, resolved: ResolvedEntry) -> list[Manifest]:
    """The runner contract for a scheduled run, in a fixed order."""
    spec = schedule.spec
    env = _calendar_env(spec)
    env += [
        # The offset is the window's first day (contract.window_dates). Jitter may push a run
        # past midnight: the whole window then moves a day earlier, so the run still archives
        # the days it was meant for (lifecycle.scheduled_window records the same days).
        _env(contract.ENV_WINDOW_OFFSET_DAYS, str(spec.window.offset_days - resolved.day_shift)),
        _env(contract.ENV_WINDOW_DAYS, str(spec.window.days)),
        _env(contract.ENV_TIME_ZONE, spec.time_zone),
        _env(contract.ENV_RECURRENCE, spec.recurrence),
        _env(contract.ENV_ON_CHANGE, spec.on_change),
        _env(contract.ENV_DRY_RUN, "false"),
    ]
    # The Job's name ends with the scheduled minute, from which the runner derives its day;
    # for scheduled runs the run id is the Job name (its ArchiveRun is named after it).
    env.append({"name": contract.ENV_RUN_ID, "valueFrom": _job_name_ref()})
    env.append({"name": contract.ENV_JOB_NAME, "valueFrom": _job_name_ref()})
    return env + _credentials_env(spec)


def run_env(schedule: ArchiveSchedule, run: ArchiveRun) -> list[Manifest]:
    """The runner contract for a manual run or backfill: explicit local dates."""
    spec = schedule.spec
    env = _calendar_env(spec)
    env += [
        _env(contract.ENV_START, run.spec.start.isoformat()),
        _env(contract.ENV_END, run.spec.end.isoformat()),
        _env(contract.ENV_TIME_ZONE, spec.time_zone),
        _env(contract.ENV_RECURRENCE, spec.recurrence),
        _env(contract.ENV_ON_CHANGE, spec.on_change),
        _env(contract.ENV_DRY_RUN, "true" if run.spec.dry_run else "false"),
        _env(contract.ENV_RUN_ID, run.metadata.name),
    ]
    return env + _credentials_env(spec)


def _volumes(schedule: ArchiveSchedule) -> tuple[list[Manifest], list[Manifest]]:
    spec = schedule.spec
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {}}]
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": c.TMP_MOUNT}]
    if spec.credentials_secret_ref is not None:
        volumes.append(
            {
                "name": "credentials",
                "secret": {"secretName": spec.credentials_secret_ref.name, "defaultMode": 0o440},
            }
        )
        mounts.append({"name": "credentials", "mountPath": c.CREDENTIALS_DIR, "readOnly": True})
    if spec.destination.directory is not None:
        claim = spec.destination.directory.claim_name
        volumes.append({"name": "archive", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": "archive", "mountPath": c.ARCHIVE_MOUNT})
    return volumes, mounts


def _resources(schedule: ArchiveSchedule, settings: Settings) -> Manifest:
    """spec.runner.resources if set, else the default ARCHIVE_OPERATOR_RUNNER_RESOURCES."""
    resources = schedule.spec.runner.resources
    if resources is None:
        return {key: dict(values) for key, values in settings.runner_resources.items() if values}
    return {
        key: {name: str(quantity) for name, quantity in values.items()}
        for key, values in (("requests", resources.requests), ("limits", resources.limits))
        if values
    }


def pod_failure_policy() -> Manifest:
    """Usage errors, partial results and bad configuration are not worth retrying."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": c.RUNNER_CONTAINER,
                    "operator": "In",
                    "values": [
                        int(contract.ExitCode.USAGE),
                        int(contract.ExitCode.PARTIAL),
                        int(contract.ExitCode.BAD_CONFIGURATION),
                    ],
                },
            },
            {
                "action": "Count",
                "onExitCodes": {
                    "containerName": c.RUNNER_CONTAINER,
                    "operator": "In",
                    "values": [int(contract.ExitCode.UNREACHABLE)],
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def pod_spec(schedule: ArchiveSchedule, env: list[Manifest], settings: Settings) -> Manifest:
    volumes, mounts = _volumes(schedule)
    container: Manifest = {
        "name": c.RUNNER_CONTAINER,
        "image": settings.runner_image,
        "imagePullPolicy": settings.runner_image_pull_policy,
        "args": ["run"],
        "env": env,
        "resources": _resources(schedule, settings),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    spec: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": c.RUNNER_UID,
            "runAsGroup": c.RUNNER_UID,
            "fsGroup": c.RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if settings.runner_image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in settings.runner_image_pull_secrets]
    return spec


def job_spec(
    schedule: ArchiveSchedule, labels: dict[str, str], env: list[Manifest], settings: Settings
) -> Manifest:
    """A runner Job's spec: retries, deadline and clean-up from spec.runner, else settings.

    The runner is told the Job's deadline too (ARCHIVE_DEADLINE_SECONDS), picked here once: it
    starts no wait for a server's Retry-After longer than the Job may run, and exits 5 instead."""
    runner = schedule.spec.runner

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    deadline = pick(runner.active_deadline_seconds, settings.runner_active_deadline_seconds)
    env = [*env, _env(contract.ENV_DEADLINE_SECONDS, str(deadline))]
    return {
        "backoffLimit": pick(runner.backoff_limit, settings.runner_backoff_limit),
        "activeDeadlineSeconds": deadline,
        "ttlSecondsAfterFinished": pick(
            runner.ttl_seconds_after_finished, settings.runner_ttl_seconds_after_finished
        ),
        "podFailurePolicy": pod_failure_policy(),
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": pod_spec(schedule, env, settings),
        },
    }


def run_labels(schedule: ArchiveSchedule, run_name: str, trigger: str) -> dict[str, str]:
    return {
        **c.common_labels(),
        c.LABEL_SCHEDULE: c.label_value(schedule.metadata.name),
        c.LABEL_USER: c.label_value(schedule.spec.user),
        c.LABEL_RUN: c.label_value(run_name),
        c.LABEL_TRIGGER: trigger,
    }


def render_run_job(schedule: ArchiveSchedule, run: ArchiveRun, settings: Settings) -> Manifest:
    """The Job of a manual run or backfill, controlled by its ArchiveRun.

    Deleting the run (history pruning, or the schedule's deletion cascading to its runs)
    deletes the Job and its pod.
    """
    labels = run_labels(schedule, run.metadata.name, run.spec.trigger)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": c.run_job_name(run.metadata.name),
            "namespace": run.metadata.namespace,
            "labels": labels,
            "annotations": {c.ANNOTATION_USER: schedule.spec.user},
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": c.RUN_KIND,
                    "name": run.metadata.name,
                    "uid": run.metadata.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": job_spec(schedule, labels, run_env(schedule, run), settings),
    }


def render_cronjob(
    schedule: ArchiveSchedule, resolved: ResolvedEntry, settings: Settings
) -> Manifest:
    spec = schedule.spec
    labels = labels_for(schedule, resolved.entry.name)
    cronjob_spec: Manifest = {
        "schedule": resolved.cron,
        "timeZone": spec.time_zone,
        "concurrencyPolicy": spec.concurrency_policy,
        "suspend": spec.suspend,
        "successfulJobsHistoryLimit": spec.history.successful_runs,
        "failedJobsHistoryLimit": spec.history.failed_runs,
        "jobTemplate": {
            "metadata": {"labels": dict(labels)},
            "spec": job_spec(schedule, labels, runner_env(schedule, resolved), settings),
        },
    }
    if spec.starting_deadline_seconds is not None:
        cronjob_spec["startingDeadlineSeconds"] = spec.starting_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": resolved.cronjob_name,
            "namespace": schedule.metadata.namespace,
            "labels": labels,
            "annotations": {c.ANNOTATION_USER: spec.user},
            "ownerReferences": [owner_reference(schedule)],
        },
        "spec": cronjob_spec,
    }


def render_cronjobs(schedule: ArchiveSchedule, settings: Settings) -> list[Manifest]:
    """All desired CronJobs, in entry order. Raises SpecError if the spec is unusable."""
    return [render_cronjob(schedule, r, settings) for r in resolve_entries(schedule)]
