"""The real runner against a real Radicale while things break under it (issue 16, item 4): the
calendar server SIGKILLed mid-run and started again, and the node agent restarted mid-pod. After
convergence the archive holds exactly the source's events of the runs' days: nothing missing,
nothing doubled.

The archive is reached through a proxy (harness.GatedProxy) that holds the run's k-th PUT, so
"mid-run" is exact: some copies written, the rest not."""

from __future__ import annotations

import re
import signal
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.radicale import PASSWORD, USERNAME
from tests.runner.stoppable_radicale import StoppableRadicale

from .conftest import pods_reach_loopback
from .harness import CalDAV, Cluster, GatedProxy, Operator, wait_for
from .test_runs import past_days, run_yaml, schedule_yaml, seed_days, wait_finished

pytestmark = pytest.mark.slow


def nth_put(n: int) -> Any:
    return lambda method, count: method == "PUT" and count == n


def expected_uids(days: list[date]) -> set[str]:
    """seed_days puts two events a day, UIDs early-YYYYMMDD and noon-YYYYMMDD; single events
    keep their UID in the archive."""
    return {f"{kind}-{d:%Y%m%d}" for d in days for kind in ("early", "noon")}


def archived_uids(caldav: CalDAV, archive: str) -> list[str]:
    return [re.search(r"^UID:(.*)$", t, re.M).group(1).strip() for t in caldav.items(archive)]  # type: ignore[union-attr]


def restart_node_agent(cluster: Cluster, request: pytest.FixtureRequest) -> None:
    if cluster.is_sandbox:
        request.getfixturevalue("sandbox").sandbox.restart_node_agent()
    else:
        assert cluster.real is not None
        cluster.real.plane.restart("node-node-1", signal.SIGKILL)


def pods_of(cluster: Cluster, namespace: str, run: str) -> list[dict[str, Any]]:
    return [
        p
        for p in cluster.items("pods", namespace)
        if p["metadata"].get("labels", {}).get("job-name") == run
    ]


def test_calendar_server_killed_mid_run_then_node_agent_restarted_mid_pod(
    cluster: Cluster,
    namespace: str,
    operator: Operator,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    pods_reach_loopback(cluster)  # the proxy and this Radicale are on 127.0.0.1
    radicale = StoppableRadicale(tmp_path / "radicale")
    radicale.start()
    try:
        caldav = CalDAV(radicale.base_url, USERNAME, PASSWORD)
        source, archive = caldav.new_calendar("work"), caldav.new_calendar("archive")
        first_days, second_days = past_days(5, ago=20), past_days(5, ago=10)
        seed_days(caldav, source, [*first_days, *second_days])

        # 1. Radicale SIGKILLed while the run's 4th PUT is on its way; started again.
        with GatedProxy(radicale.base_url, hold=nth_put(4)) as gate:
            through_gate = archive.replace(radicale.base_url, gate.url)
            cluster.apply(schedule_yaml("alice", source, through_gate), namespace)
            cluster.apply(run_yaml("killed", "alice", first_days[0], first_days[-1]), namespace)
            wait_for(gate.waiting.is_set, "the run's 4th PUT", timeout=60)
            radicale.stop("kill")
            gate.release.set()  # that PUT finds no server: its connection is closed
            wait_for(
                lambda: any(
                    (p.get("status") or {}).get("phase") == "Failed"
                    for p in pods_of(cluster, namespace, "killed")
                ),
                "the runner to fail while the server is down",
                timeout=60,
            )
            radicale.start()
            killed = wait_finished(cluster, namespace, "killed", timeout=120)
        assert killed["status"]["phase"] == "Succeeded", killed["status"]
        assert sorted(archived_uids(caldav, archive)) == sorted(expected_uids(first_days))

        # 2. The node agent restarted while the next run's runner is mid-way: the sandbox's in
        # process, the launched control plane's as a process SIGKILLed and started again.
        if cluster.is_sandbox or cluster.real is not None:
            with GatedProxy(radicale.base_url, hold=nth_put(3)) as gate:
                through_gate = archive.replace(radicale.base_url, gate.url)
                cluster.apply(schedule_yaml("alice", source, through_gate), namespace)
                cluster.apply(
                    run_yaml("restarted", "alice", second_days[0], second_days[-1]), namespace
                )
                wait_for(gate.waiting.is_set, "the run's 3rd PUT", timeout=60)
                restart_node_agent(cluster, request)  # the runner's process dies with it
                gate.release.set()
                restarted = wait_finished(cluster, namespace, "restarted", timeout=120)
            assert restarted["status"]["phase"] == "Succeeded", restarted["status"]
            lost = [
                p
                for p in pods_of(cluster, namespace, "restarted")
                if p["status"]["containerStatuses"][0]["state"].get("terminated", {}).get("reason")
                == "ContainerStatusUnknown"
            ]
            assert len(lost) == 1  # the pod running at the restart; another one finished it
            days = [*first_days, *second_days]
        else:
            days = first_days  # another cluster: its nodes are not ours to restart

        uids = archived_uids(caldav, archive)
        assert sorted(uids) == sorted(expected_uids(days))  # nothing missing
        assert len(uids) == len(set(uids)) == 2 * len(days)  # nothing doubled
    finally:
        radicale.stop()
