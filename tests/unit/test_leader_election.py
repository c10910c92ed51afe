"""Leader election (leader_election.py, leader_elector.py) on an injected clock.

The decisions are pure; the Elector is driven step by step against an in-memory Lease with the
API server's optimistic concurrency (a write with a stale resourceVersion is 409), so the
scenarios — acquire, renew, a dead holder's expiry, a holder cut off from the API, a release,
two candidates racing — run in microseconds with exact times. The same algorithm on the real
API server: tests/real/test_leader_election_real.py.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_operator.errors import Conflict, NotFound, Transient
from archive_operator.leader_election import (
    STOP_ALLOWANCE,
    LeaseRecord,
    Observed,
    Timings,
    Verdict,
    decide,
    failover_bound,
    microtime,
    new_identity,
    observe,
    released_spec,
    still_leading,
    timings_problem,
    written_spec,
)
from archive_operator.leader_elector import Elector, KubeLeaseApi
from archive_operator.settings import Settings, SettingsError

T = Timings(lease_duration=15, renew_deadline=10.0, retry_period=2.0)
WALL = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def lease(holder: str, renew: str = "r1", version: str = "1", duration: int = 15) -> Any:
    return {
        "metadata": {"name": "op", "namespace": "ns", "resourceVersion": version},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": "a",
            "renewTime": renew,
            "leaseTransitions": 3,
        },
    }


# --- the pure decisions -------------------------------------------------------------------------


def test_no_lease_is_created() -> None:
    observed = observe(None, None, now=100.0)
    assert decide(observed, "me", 100.0, T).verdict is Verdict.CREATE


def test_my_lease_is_renewed_and_a_released_one_taken() -> None:
    assert decide(observe(None, lease("me"), 0.0), "me", 0.0, T).verdict is Verdict.RENEW
    assert decide(observe(None, lease(""), 0.0), "me", 0.0, T).verdict is Verdict.TAKE_OVER


def test_anothers_lease_expires_a_lease_duration_after_its_record_last_changed() -> None:
    first = observe(None, lease("other", renew="r1"), now=100.0)
    decision = decide(first, "me", 100.0, T)
    assert (decision.verdict, decision.wait) == (Verdict.WAIT, 2.0)  # the retry period
    # The same record read again later: still measured from the first sight of it.
    same = observe(first, lease("other", renew="r1", version="1"), now=113.5)
    assert same.since == 100.0
    decision = decide(same, "me", 113.5, T)
    assert decision.verdict is Verdict.WAIT
    assert decision.wait == pytest.approx(1.5)  # wakes exactly at the expiry, not a period late
    assert decide(same, "me", 115.0, T).verdict is Verdict.TAKE_OVER
    # A renewal (a new record) restarts the count; a new resourceVersion alone does not.
    renewed = observe(same, lease("other", renew="r2", version="2"), now=114.0)
    assert renewed.since == 114.0
    assert decide(renewed, "me", 128.9, T).verdict is Verdict.WAIT
    relabelled = observe(same, lease("other", renew="r1", version="9"), now=114.0)
    assert relabelled.since == 100.0


def test_the_leases_own_duration_is_used_not_mine() -> None:
    observed = observe(None, lease("other", duration=40), now=0.0)
    assert decide(observed, "me", 39.0, T).verdict is Verdict.WAIT
    assert decide(observed, "me", 40.0, T).verdict is Verdict.TAKE_OVER


def test_a_holder_leads_only_within_the_renew_deadline_of_its_last_renewal_sent() -> None:
    assert still_leading(last_renewal_sent=50.0, now=59.99, timings=T)
    assert not still_leading(last_renewal_sent=50.0, now=60.0, timings=T)


def test_the_bound_between_the_timings() -> None:
    assert timings_problem(15, 10, 2) == ""  # client-go's defaults
    assert timings_problem(5, 3, 0.5) == ""  # the real-control-plane test's
    assert "must exceed the renew deadline" in timings_problem(11, 10, 2)
    assert "1.2 x the retry period" in timings_problem(15, 2.4, 2)
    assert "positive" in timings_problem(15, 10, 0)
    with pytest.raises(ValueError, match="lease duration"):
        Timings(lease_duration=10, renew_deadline=10, retry_period=2).check()
    assert failover_bound(T) == 17.0
    assert STOP_ALLOWANCE == 1.0


def test_settings_enforce_the_bound_and_name_the_variable() -> None:
    settings = Settings.from_env({})
    assert (settings.lease_duration_seconds, settings.renew_deadline_seconds) == (15, 10.0)
    assert settings.retry_period_seconds == 2.0
    assert settings.leader_election is False
    with pytest.raises(SettingsError, match=r"^ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS='11'"):
        Settings.from_env({"ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS": "11"})
    with pytest.raises(SettingsError, match=r"^ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS='2'"):
        Settings.from_env({"ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS": "2"})
    short = Settings.from_env(
        {
            "ARCHIVE_OPERATOR_LEADER_ELECTION": "true",
            "ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS": "5",
            "ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS": "3",
            "ARCHIVE_OPERATOR_RETRY_PERIOD_SECONDS": "0.5",
            "ARCHIVE_OPERATOR_POD_NAMESPACE": "archive-system",
        }
    )
    assert short.leader_election and short.election_namespace == "archive-system"


def test_what_is_written() -> None:
    record = LeaseRecord.from_lease(lease("other"))
    now = microtime(WALL)
    assert now == "2026-05-01T12:00:00.000000Z"
    taken = written_spec(Verdict.TAKE_OVER, record, "me", WALL, T)
    assert taken == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": now,
        "renewTime": now,
        "leaseTransitions": 4,  # a change of holder
    }
    mine = LeaseRecord.from_lease(lease("me"))
    renewed = written_spec(Verdict.RENEW, mine, "me", WALL, T)
    assert (renewed["acquireTime"], renewed["leaseTransitions"]) == ("a", 3)
    created = written_spec(Verdict.CREATE, None, "me", WALL, T)
    assert created["leaseTransitions"] == 0
    released = released_spec(mine, WALL)
    assert (released["holderIdentity"], released["leaseDurationSeconds"]) == ("", 1)
    with pytest.raises(ValueError):
        written_spec(Verdict.WAIT, record, "me", WALL, T)


def test_identity_is_the_pod_name_and_a_suffix() -> None:
    assert new_identity("op-7c9-x2", "host", "ab12") == "op-7c9-x2_ab12"
    assert new_identity("", "laptop", "ab12") == "laptop_ab12"


# --- the Elector on a fake clock and an in-memory Lease -----------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryLease:
    """One Lease with the API server's optimistic concurrency; ``reachable`` per identity
    models a partition (a request from a cut-off candidate fails like a timeout)."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] | None = None
        self.versions = itertools.count(1)
        self.cut: set[str] = set()
        self.writes: list[tuple[str, str]] = []  # (writer, holder written)

    def api(self, who: str) -> Any:
        store = self

        class Api:
            namespace = "ns"

            def _check(self) -> None:
                if who in store.cut:
                    raise Transient("timed out")

            def get(self, timeout: float) -> dict[str, Any] | None:
                self._check()
                return copy.deepcopy(store.stored)

            def create(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
                self._check()
                if store.stored is not None:
                    raise Conflict("AlreadyExists", status=409)
                return store._write(who, body)

            def update(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
                self._check()
                if store.stored is None:
                    raise NotFound("gone", status=404)
                if body["metadata"].get("resourceVersion") != store.version:
                    raise Conflict("stale resourceVersion", status=409)
                return store._write(who, body)

        return Api()

    @property
    def version(self) -> str:
        return str((self.stored or {}).get("metadata", {}).get("resourceVersion"))

    def _write(self, who: str, body: dict[str, Any]) -> dict[str, Any]:
        self.stored = copy.deepcopy(body)
        self.stored["metadata"]["resourceVersion"] = str(next(self.versions))
        self.writes.append((who, body["spec"]["holderIdentity"]))
        return copy.deepcopy(self.stored)

    @property
    def holder(self) -> str:
        return str((self.stored or {}).get("spec", {}).get("holderIdentity", ""))


def candidate(store: MemoryLease, who: str, clock: Clock, lost: list[str]) -> Elector:
    return Elector(
        store.api(who),
        who,
        T,
        name="op",
        namespace="ns",
        clock=clock,
        wall=lambda: WALL + timedelta(seconds=clock.now),  # renewTime moves with the clock
        on_lost=lambda reason: lost.append(f"{who}: {reason}"),
    )


def test_first_candidate_creates_and_renews_the_second_waits() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a, b = candidate(store, "a", clock, lost), candidate(store, "b", clock, lost)
    assert a.step() == 2.0 and a.leading and store.holder == "a"
    assert b.step() == 2.0 and not b.leading
    for _ in range(10):
        clock.now += 2.0
        a.step()
        b.step()
        assert a.leading and not b.leading
    assert [w for w in store.writes if w[0] == "b"] == []
    assert lost == []


def test_a_killed_holder_is_replaced_within_lease_duration_plus_retry_period() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a, b = candidate(store, "a", clock, lost), candidate(store, "b", clock, lost)
    a.step()
    b_next = clock.now + b.step()
    for _ in range(5):  # a renews every period, b polls with a phase offset
        clock.now += 2.0
        a.step()
    killed = clock.now + 0.3  # a dies (SIGKILL): it never writes again
    while not b.leading:
        clock.now = max(b_next, killed)
        b_next = clock.now + b.step()
    assert store.holder == "b"
    assert clock.now - killed <= failover_bound(T)
    assert clock.now - killed >= T.lease_duration - T.retry_period


def test_a_partitioned_holder_stops_before_the_standby_can_take_over() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a, b = candidate(store, "a", clock, lost), candidate(store, "b", clock, lost)
    a.step()
    b.step()
    clock.now += 2.0
    last_sent = clock.now
    a.step()  # a's last successful renewal
    b.step()
    store.cut.add("a")
    stopped_at = None
    took_over_at = None
    while took_over_at is None:
        clock.now += 0.25
        if a.leading:
            a.step()  # fails: the API is out of reach
            if not still_leading(last_sent, clock.now, T):
                a._lose("deadline")  # what the watchdog thread does at the deadline
        if not a.leading and stopped_at is None:
            stopped_at = clock.now
        b.step()
        if b.leading:
            took_over_at = clock.now
    assert stopped_at is not None
    assert stopped_at <= last_sent + T.renew_deadline + 0.25
    assert took_over_at >= last_sent + T.lease_duration
    assert took_over_at - stopped_at > STOP_ALLOWANCE  # the margin the bound promises
    assert lost == ["a: deadline"]


def test_the_watchdog_fires_on_time_when_renewals_hang() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a = candidate(store, "a", clock, lost)
    a.step()
    assert a.deadline() == clock.now + T.renew_deadline
    clock.now = a.deadline()
    a.start_renewing()  # the watchdog thread sees the deadline passed at once
    for thread in list(a._threads):
        thread.join(5)
    assert lost == ["a: no renewal within the renew deadline (10 s)"]
    assert not a.leading


def test_two_candidates_racing_for_an_expired_lease_one_wins() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    store.stored = lease("dead", version="7")
    store.versions = itertools.count(8)
    a, b = candidate(store, "a", clock, lost), candidate(store, "b", clock, lost)
    a.step()
    b.step()
    clock.now += 15.0
    # Both read the same expired record; a writes first, b's write carries a stale version.
    a_api, b_api = a.api, b.api
    read = b_api.get(1.0)
    a.step()
    assert a.leading
    b.observed = observe(b.observed, read, clock.now)
    stale = written_spec(Verdict.TAKE_OVER, b.observed.record, "b", WALL, T)
    with pytest.raises(Conflict):
        b_api.update(
            {"metadata": {"resourceVersion": b.observed.resource_version}, "spec": stale}, 1.0
        )
    assert b.step() == 2.0 and not b.leading  # reads a's fresh record and waits
    assert store.holder == "a" and a_api is not None
    assert store.stored is not None and store.stored["spec"]["leaseTransitions"] == 4


def test_a_holder_that_finds_another_in_the_lease_steps_down_at_once() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a = candidate(store, "a", clock, lost)
    a.step()
    store._write("x", {"metadata": {}, "spec": lease("intruder")["spec"]})
    clock.now += 2.0
    a.step()  # its renewal conflicts: it reads again
    assert a.leading
    a.step()
    assert not a.leading
    assert lost == ["a: the lease is held by intruder"]


def test_a_release_lets_the_standby_take_over_at_its_next_read() -> None:
    clock, store, lost = Clock(), MemoryLease(), []
    a, b = candidate(store, "a", clock, lost), candidate(store, "b", clock, lost)
    a.step()
    b.step()
    a.release()
    assert store.holder == "" and not a.leading
    clock.now += 2.0
    b.step()
    assert b.leading and lost == []


def test_kube_lease_api_paths() -> None:
    calls: list[tuple[str, str, float]] = []

    class Kube:
        def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
            calls.append((method, path, kw["timeout"]))
            if method == "GET":
                raise NotFound("no", status=404)
            return {}

    api = KubeLeaseApi(Kube(), "archive-operator", "archive-system")
    assert api.get(1.5) is None
    api.create({}, 2.0)
    api.update({}, 3.0)
    base = "/apis/coordination.k8s.io/v1/namespaces/archive-system/leases"
    assert calls == [
        ("GET", f"{base}/archive-operator", 1.5),
        ("POST", base, 2.0),
        ("PUT", f"{base}/archive-operator", 3.0),
    ]


def test_observed_is_frozen() -> None:
    observed = Observed(None, "", 0.0)
    with pytest.raises(AttributeError):
        observed.since = 1.0  # type: ignore[misc]
