"""One clock, the cluster's: the operator (real kopf) and the plugin read the sandbox's time.

The sandbox's clock is set days away from real time, ahead and then back; the operator learns
the cluster's time from the Date header of its answers (cluster_clock.py), so the status it
writes is computed from the sandbox's time, and ``kubectl archive status`` shows ages and "in 2h"
against it. On the local clock the next run would be real time's next 12:00, and the plugin
would show ``<invalid>`` ages. The session's sandbox clock is given back to real time at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from archive_operator.kube import Kube

from .conftest import OperatorProcess, wait_for

pytestmark = pytest.mark.slow

PLUGIN = str(Path(sys.executable).parent / "kubectl-archive")
Apply = Callable[..., subprocess.CompletedProcess[str]]

SCHEDULE = """
apiVersion: archive.auriora.io/v1alpha1
kind: ArchiveSchedule
metadata:
  name: noon
spec:
  user: noon@example.com
  timeZone: UTC
  schedules:
    - name: daily
      daily: {at: "12:00"}
  source:
    caldav:
      url: https://cal.example.com/dav/noon/calendar/
  destination:
    caldav:
      url: https://cal.example.com/dav/noon/archive/
"""


def at_ten(day: datetime) -> datetime:
    return day.replace(hour=10, minute=0, second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxClock:
    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.url = f"{sandbox.url}/sandbox/clock"

    def set(self, moment: datetime, speed: float = 1) -> None:
        httpx.post(self.url, json={"now": moment.isoformat(), "speed": speed}, timeout=30)

    def now(self) -> datetime:
        state = httpx.get(self.url, timeout=30).json()
        return datetime.fromisoformat(state["now"].replace("Z", "+00:00"))


@pytest.fixture
def clock(sandbox: Any) -> Iterator[SandboxClock]:
    moved = SandboxClock(sandbox)
    try:
        yield moved
    finally:
        moved.set(datetime.now(UTC))  # the session's other tests run on real time


def operator_heard_since(sandbox: Any, namespace: str, mark: int) -> bool:
    """Whether the operator itself (not kopf's watches) has had an answer since ``mark``: its
    resync reads the schedules every RESYNC_SECONDS."""
    return any(
        r.namespace == namespace
        and r.resource == "archiveschedules"
        and not r.user_agent.startswith(("kopf", "kubectl"))
        for r in sandbox.requests.since(mark)
    )


def schedule_status(kube: Kube, namespace: str) -> dict[str, Any]:
    return dict(kube.get_schedule(namespace, "noon").get("status") or {})


def plugin_row(sandbox: Any, namespace: str) -> dict[str, str]:
    """``kubectl archive status`` as {column: cell} for its one row."""
    done = subprocess.run(
        [PLUGIN, "status", "-n", namespace],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "NO_COLOR": "1"},
        timeout=60,
        check=True,
    )
    header, row = done.stdout.splitlines()
    return dict(zip(re.split(r" {3,}", header), re.split(r" {3,}", row), strict=True))


def test_the_operator_and_the_plugin_follow_the_sandbox_clock(
    operator: OperatorProcess,
    kube: Kube,
    namespace: str,
    apply: Apply,
    sandbox: Any,
    clock: SandboxClock,
) -> None:
    # Three days ahead, 10:00 UTC: the daily 12:00 entry's next run is that day's noon.
    ahead = at_ten(datetime.now(UTC) + timedelta(days=3))
    mark = sandbox.requests.mark()
    clock.set(ahead)
    wait_for(lambda: operator_heard_since(sandbox, namespace, mark), "the operator's resync")
    apply(SCHEDULE)
    noon = ahead.replace(hour=12)
    status = wait_for(
        lambda: (s := schedule_status(kube, namespace)).get("nextRunTime") == stamp(noon) and s,
        f"nextRunTime {stamp(noon)}",
    )
    # The Ready condition was set by the first reconcile, at the sandbox's time, give or take
    # the Date header's second (on the local clock: three days earlier).
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    became = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
    assert ahead <= became <= clock.now() + timedelta(seconds=1), ready

    # The plugin: the schedule was created a few sandbox seconds ago, and noon is under 2 h away.
    before = clock.now()
    row = plugin_row(sandbox, namespace)
    after = clock.now()
    assert re.fullmatch(r"\d+s", row["AGE"]), row  # on the local clock: <invalid>
    assert int(row["AGE"][:-1]) <= (after - ahead).total_seconds() + 1, row
    # kubectl's durations count whole minutes below 3 h: 12:00 - 10:00:SS is 119 minutes and
    # change. The plugin read its clock between `before` and `after`, give or take the Date's
    # second; the slowest reading is still more than 115 minutes before noon.
    early, late = before - timedelta(seconds=1), after + timedelta(seconds=1)
    most, least = (int((noon - m).total_seconds()) // 60 for m in (early, late))
    assert row["NEXT RUN"] in {f"in {m}m" for m in range(least, most + 1)}, row
    assert least > 115

    # Set back six days: the operator follows the jump backwards at its next answer.
    behind = at_ten(datetime.now(UTC) - timedelta(days=3))
    clock.set(behind)
    wait_for(
        lambda: (
            schedule_status(kube, namespace).get("nextRunTime") == stamp(behind.replace(hour=12))
        ),
        f"nextRunTime {stamp(behind.replace(hour=12))}",
    )
