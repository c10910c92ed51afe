"""Pure: why a runner pod has not started, from what its status says (docs/operator.md,
"Blocked runs").

A run whose Job is active but whose pod cannot start would otherwise look Running until the
Job's deadline. The kubelet reports most causes in the pod's status, which the operator already
watches:

* a container waiting with a reason that needs a fix, not time: ``CreateContainerConfigError``
  (a Secret or ConfigMap named in env is missing), ``ErrImagePull`` / ``ImagePullBackOff``,
  ``InvalidImageName`` ... (:data:`BLOCKING_REASONS`);
* the pod not scheduled: condition ``PodScheduled=False`` with reason ``Unschedulable``, for
  longer than :data:`START_GRACE` (a node that is not Ready yet, or one a cluster autoscaler is
  adding, makes pods unschedulable for a while: a run is shown Blocked only after the grace);
* a volume that cannot be mounted (the run's credentials Secret missing): the kubelet says so
  only in a ``FailedMount`` Event, the container just waits in ``ContainerCreating``. Reading
  Events would need another permission, so a pod still ``ContainerCreating`` :data:`START_GRACE`
  after it was scheduled counts as blocked, with the Secrets its volumes name as the likely
  cause. A slow image pull also shows ContainerCreating: such a
  run is Blocked for a while and turns Running when the container starts.

Only pod facts are kept (names, reasons, kubelet messages, which name objects, never their data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Manifest = dict[str, Any]

# Waiting reasons the kubelet keeps reporting until something is fixed (kubelet's
# images/types.go and kuberuntime's container errors).
BLOCKING_REASONS = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
CONTAINER_CREATING = "ContainerCreating"
UNSCHEDULABLE = "Unschedulable"
# How long a pod may sit in ContainerCreating after it was scheduled, or unschedulable after it
# was created, before its run counts as blocked: a mount of an existing Secret takes a second,
# a node turning Ready a few; an image pull or an autoscaler's new node can take longer, and
# then the run is shown Blocked until the pod starts.
START_GRACE = timedelta(seconds=40)
GRACED_REASONS = frozenset({CONTAINER_CREATING, UNSCHEDULABLE})
MAX_MESSAGE = 512


@dataclass(frozen=True)
class PodWaiting:
    """The newest unstarted pod of a Job: why it waits, per its status."""

    pod: str
    reason: str  # a waiting reason, or Unschedulable
    message: str  # the kubelet's or scheduler's message ("" if none)
    since: datetime | None  # when it was scheduled, or found unschedulable: the grace's start
    secrets: tuple[str, ...] = ()  # Secrets its volumes name (the usual FailedMount cause)


@dataclass(frozen=True)
class Blocked:
    """A run's pod that cannot start: the run's reason and message."""

    reason: str
    message: str


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time from the API (a pod's or Job's status), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _secret_volumes(pod: Manifest) -> tuple[str, ...]:
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = (volume.get("secret") or {}).get("secretName")
        if name:
            names.append(str(name))
    return tuple(names)


def _condition(pod: Manifest, type_: str) -> Manifest:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def pod_waiting(pod: Manifest) -> PodWaiting | None:
    """Why ``pod`` has not started its containers, or None (started, finished or deleting)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase", "Pending") != "Pending":
        return None
    name = str(meta.get("name", ""))
    created = parse_time(meta.get("creationTimestamp"))
    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False" and scheduled.get("reason") == UNSCHEDULABLE:
        message = str(scheduled.get("message") or "")
        since = parse_time(scheduled.get("lastTransitionTime")) or created
        return PodWaiting(name, UNSCHEDULABLE, message, since)
    since = (
        parse_time(scheduled.get("lastTransitionTime"))
        or parse_time(status.get("startTime"))
        or created
    )
    creating: PodWaiting | None = None
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting")
        if not waiting:
            continue
        reason = str(waiting.get("reason") or "")
        message = str(waiting.get("message") or "")
        if reason in BLOCKING_REASONS:
            return PodWaiting(name, reason, message, since)
        if reason == CONTAINER_CREATING and creating is None:
            creating = PodWaiting(name, reason, message, since, _secret_volumes(pod))
    return creating


def newest_waiting(pods: list[Manifest]) -> PodWaiting | None:
    """The newest pod's reason to wait, if the newest pod has not started (older pods of a Job
    are earlier attempts)."""

    def created(pod: Manifest) -> str:
        return str((pod.get("metadata") or {}).get("creationTimestamp") or "")

    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not live:
        return None
    return pod_waiting(max(live, key=created))


def blocked(waiting: PodWaiting | None, now: datetime) -> Blocked | None:
    """The run's Blocked reason and message, or None while its pod may just be starting."""
    if waiting is None:
        return None
    pod = f"pod {waiting.pod}"
    if waiting.reason in GRACED_REASONS and (
        waiting.since is None or now - waiting.since < START_GRACE
    ):
        return None
    if waiting.reason == CONTAINER_CREATING:
        grace = int(START_GRACE.total_seconds())
        hint = "a volume may not mount (kubectl describe pod shows FailedMount events)"
        if waiting.secrets:
            named = ", ".join(f'"{s}"' for s in waiting.secrets)
            hint = f"check that the Secret {named} it mounts exists (spec.credentialsSecretRef)"
        message = f"{pod} is still ContainerCreating more than {grace}s after it was scheduled; "
        return Blocked(CONTAINER_CREATING, _cut(message + hint))
    detail = f": {waiting.message}" if waiting.message else ""
    return Blocked(waiting.reason, _cut(f"{pod} cannot start: {waiting.reason}{detail}"))


def recheck_at(waiting: PodWaiting | None, now: datetime) -> datetime | None:
    """When :func:`blocked` changes with time alone (a pod reaching the grace), if it will."""
    if waiting is None or waiting.reason not in GRACED_REASONS or waiting.since is None:
        return None
    due = waiting.since + START_GRACE
    return due if due > now else None


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."
