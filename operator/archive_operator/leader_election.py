"""Leader election on a coordination.k8s.io/v1 Lease: the decisions, pure (no I/O, no clock).

Only the holder of the Lease runs kopf's reconciliation; the other replicas wait (standby).
The algorithm is client-go's ``tools/leaderelection`` (kube-controller-manager, kube-scheduler):

* Every candidate reads the Lease every ``retry_period``. A Lease with no holder, or whose
  record (holder, renewTime, ...) has not changed for ``leaseDurationSeconds`` *as measured on
  the candidate's own monotonic clock since it first saw that record*, is free: the candidate
  takes it over with an update carrying the resourceVersion it read (optimistic concurrency:
  of two candidates writing at once, one gets 409 Conflict and goes back to waiting).
  Timestamps written in the Lease are informational only, so clock offsets between nodes do
  not matter (only clock *rates*, which is why the margins below are seconds, not
  milliseconds). A candidate that has only just started waits a full lease duration from its
  first read, as client-go does.
* The holder renews (writes renewTime) every ``retry_period``. If it has not renewed
  successfully within ``renew_deadline`` of *sending* its last successful renewal, it stops
  leading: the operator exits at once (leader_elector.py) and the Deployment restarts it as a
  standby. Exiting is what makes the stop immediate: kopf's handlers run in threads that
  cannot be cancelled, so only the process's end stops them writing.

Why no two replicas reconcile at once (the bound; docs/reliability.md, "Leader election").
Let ``s`` be the send time of the holder's last successful renewal. The write happened at or
after ``s``, so every standby saw that record at ``o >= s`` and takes over no earlier than
``o + lease_duration >= s + lease_duration``. The holder exits no later than
``s + renew_deadline + STOP_ALLOWANCE`` (the watchdog thread fires at ``s + renew_deadline``;
``STOP_ALLOWANCE`` covers its wake-up and ``os._exit``). So
``lease_duration > renew_deadline + STOP_ALLOWANCE`` (checked by ``Timings.check``) means the
old holder has stopped before anyone else can start. Not covered, as in client-go, which has no
fencing either: a request already on the wire when the holder exits may still land; the
operator's writes are idempotent (deterministic names, 409 adoption), so such a late write
cannot start a second run.

Failover bound after the holder dies (SIGKILL, node loss): its last write ``w`` is at most the
time of death; a standby polling every ``retry_period`` sees it by ``w + retry_period`` and
wakes exactly at the expiry (``decide`` sleeps ``min(retry_period, time left)``), so it holds
the Lease by ``death + lease_duration + retry_period`` plus two API round trips
(``failover_bound``). kopf's start-up comes on top before the first reconcile.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LEASE_API = "/apis/coordination.k8s.io/v1"
# client-go's defaults (k8s.io/client-go/tools/leaderelection, and kube-controller-manager's
# --leader-elect-lease-duration / -renew-deadline / -retry-period).
DEFAULT_LEASE_DURATION = 15
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0
# client-go's JitterFactor: the renew deadline must leave room for more than one retry.
JITTER_FACTOR = 1.2
# Seconds from the renew deadline to the process's end (the watchdog's wake-up, then
# os._exit); part of the bound above, so lease_duration must exceed renew_deadline by more.
STOP_ALLOWANCE = 1.0

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Timings:
    """Seconds. ``lease_duration`` is whole seconds: it is written into the Lease
    (spec.leaseDurationSeconds), and the standbys use the value they read there."""

    lease_duration: int = DEFAULT_LEASE_DURATION
    renew_deadline: float = DEFAULT_RENEW_DEADLINE
    retry_period: float = DEFAULT_RETRY_PERIOD

    def check(self) -> None:
        """ValueError unless retry_period * 1.2 < renew_deadline < lease_duration - 1 s."""
        problem = timings_problem(self.lease_duration, self.renew_deadline, self.retry_period)
        if problem:
            raise ValueError(problem)


def timings_problem(lease_duration: float, renew_deadline: float, retry_period: float) -> str:
    """What is wrong with these timings ("" if nothing): see the module doc for the bound."""
    if retry_period <= 0:
        return f"the retry period ({retry_period:g} s) must be positive"
    if renew_deadline <= JITTER_FACTOR * retry_period:
        return (
            f"the renew deadline ({renew_deadline:g} s) must exceed {JITTER_FACTOR:g} x the "
            f"retry period ({retry_period:g} s), so that a holder retries before giving up"
        )
    if lease_duration <= renew_deadline + STOP_ALLOWANCE:
        return (
            f"the lease duration ({lease_duration:g} s) must exceed the renew deadline "
            f"({renew_deadline:g} s) by more than {STOP_ALLOWANCE:g} s, so that a holder that "
            "cannot renew has stopped before a standby may take over"
        )
    return ""


def failover_bound(timings: Timings) -> float:
    """Seconds from the holder's death to a standby holding the Lease, API latency aside."""
    return timings.lease_duration + timings.retry_period


def new_identity(pod_name: str, hostname: str, suffix: str) -> str:
    """The candidate's holderIdentity: the pod's name (downward API), else the host name, and a
    random suffix, so that a restarted container never mistakes its predecessor's lease for its
    own."""
    return f"{pod_name or hostname}_{suffix}"


# --- the Lease as read --------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRecord:
    """The election record: the Lease's spec (no metadata: a change of labels or of the
    resourceVersion alone is not a sign of life)."""

    holder: str
    lease_duration: int
    acquire_time: str
    renew_time: str
    transitions: int

    @classmethod
    def from_lease(cls, lease: Manifest) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


@dataclass(frozen=True)
class Observed:
    """The Lease as last read: its record (None: there is no Lease), its resourceVersion, and
    ``since``, the local monotonic time at which this candidate first saw this record."""

    record: LeaseRecord | None
    resource_version: str
    since: float


def observe(previous: Observed | None, lease: Manifest | None, now: float) -> Observed:
    """Fold a read of the Lease (None: 404) into what is known: ``since`` is kept while the
    record stays the same and restarts at ``now`` when it changes (client-go's observedTime)."""
    record = LeaseRecord.from_lease(lease) if lease is not None else None
    version = str(((lease or {}).get("metadata") or {}).get("resourceVersion") or "")
    if previous is not None and previous.record == record and record is not None:
        return Observed(record, version, previous.since)
    return Observed(record, version, now)


class Verdict(enum.Enum):
    CREATE = "create"  # no Lease yet: create it, held by me
    TAKE_OVER = "take over"  # released or expired: update it to me (with its resourceVersion)
    RENEW = "renew"  # mine: update renewTime
    WAIT = "wait"  # someone else's and still valid


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    wait: float = 0.0  # WAIT: seconds until the next read
    reason: str = ""


def decide(observed: Observed, identity: str, now: float, timings: Timings) -> Decision:
    """Given the Lease as read, my identity and the clock: acquire, renew or wait?"""
    record = observed.record
    if record is None:
        return Decision(Verdict.CREATE, reason="no lease")
    if record.holder == identity:
        return Decision(Verdict.RENEW, reason="held by me")
    if not record.holder:
        return Decision(Verdict.TAKE_OVER, reason="released")
    duration = record.lease_duration if record.lease_duration > 0 else timings.lease_duration
    expires = observed.since + duration
    if now >= expires:
        return Decision(
            Verdict.TAKE_OVER,
            reason=f"{record.holder} has not renewed for {now - observed.since:.1f} s",
        )
    return Decision(
        Verdict.WAIT,
        wait=min(timings.retry_period, expires - now),
        reason=f"held by {record.holder}",
    )


def still_leading(last_renewal_sent: float, now: float, timings: Timings) -> bool:
    """The holder may go on only while less than ``renew_deadline`` has passed since it sent
    its last successful renewal (or acquisition)."""
    return now < step_down_at(last_renewal_sent, timings)


def step_down_at(last_renewal_sent: float, timings: Timings) -> float:
    return last_renewal_sent + timings.renew_deadline


# --- what to write ------------------------------------------------------------------------------


def microtime(moment: datetime) -> str:
    """A MicroTime as the API writes it: 2026-01-02T03:04:05.678901Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def written_spec(
    verdict: Verdict,
    record: LeaseRecord | None,
    identity: str,
    wall_now: datetime,
    timings: Timings,
) -> Manifest:
    """The Lease spec to write for CREATE, TAKE_OVER or RENEW (leaseTransitions counts changes
    of holder, as in client-go; a released Lease taken back by its last holder is no change)."""
    now = microtime(wall_now)
    if verdict is Verdict.RENEW and record is not None:
        acquire_time, transitions = record.acquire_time or now, record.transitions
    elif verdict is Verdict.TAKE_OVER and record is not None:
        acquire_time = now
        transitions = record.transitions + (1 if record.holder != identity else 0)
    elif verdict is Verdict.CREATE:
        acquire_time, transitions = now, 0
    else:
        raise ValueError(f"nothing to write for {verdict.value} of {record!r}")
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": timings.lease_duration,
        "acquireTime": acquire_time,
        "renewTime": now,
        "leaseTransitions": transitions,
    }


def released_spec(record: LeaseRecord, wall_now: datetime) -> Manifest:
    """What a holder writes when it stops cleanly (client-go's ReleaseOnCancel): no holder, so
    a standby takes over at its next read instead of waiting for the lease to expire."""
    now = microtime(wall_now)
    return {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": now,
        "renewTime": now,
        "leaseTransitions": record.transitions,
    }


def lease_manifest(name: str, namespace: str, spec: Manifest, resource_version: str) -> Manifest:
    metadata: Manifest = {"name": name, "namespace": namespace}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec,
    }
