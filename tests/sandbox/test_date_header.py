"""Every answer's Date header is the sandbox clock's time, as kube-apiserver's is its own; the
operator's Kube and the plugin's Client learn the cluster's time from it (cluster_clock.py).

A sandbox of this module's own: its clock is frozen and moved here. Expected Date values are
worked out by hand: 2031-01-01 is a Wednesday (2024-01-01 was a Monday; 2024 and 2028 are leap
years: +2 +1 +1 +1 +2 +1 +1 = 9 days later in the week), so 1 February (31 days on) is a
Saturday and 3 February a Monday.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest
from archive_operator.cli.client import Client, Resource
from archive_operator.cli.kubeconfig import load_target
from archive_operator.cluster_clock import ClusterClock, parse_http_date
from archive_operator.kube import Kube
from archive_sandbox.app import Sandbox

T = datetime(2031, 2, 3, 4, 5, 6, 789_000, tzinfo=UTC)
T_DATE = "Mon, 03 Feb 2031 04:05:06 GMT"


class Own:
    def __init__(self, sandbox: Sandbox, kubeconfig: Path) -> None:
        self.sandbox = sandbox
        self.kubeconfig = kubeconfig
        self.http = httpx.Client(base_url=sandbox.url, timeout=30)

    def clock(self, **body: Any) -> httpx.Response:
        response = self.http.post("/sandbox/clock", json=body)
        response.raise_for_status()
        return response


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    with Sandbox.threaded() as sandbox:
        handle = Own(sandbox, sandbox.write_kubeconfig(tmp_path_factory.mktemp("date") / "kc"))
        yield handle
        handle.http.close()


def test_date_follows_the_clock_moved_either_way(own: Own) -> None:
    moved = own.clock(now=T.isoformat(), speed=0)
    assert moved.headers["Date"] == T_DATE  # the clock endpoint's own answer, after the move
    assert own.http.get("/api/v1/namespaces").headers["Date"] == T_DATE
    missing = own.http.get("/api/v1/namespaces/no-such-namespace")
    assert missing.status_code == 404
    assert missing.headers["Date"] == T_DATE  # errors too
    assert own.http.get("/version").headers["Date"] == T_DATE  # and discovery
    with own.http.stream("GET", "/api/v1/namespaces", params={"watch": "1"}) as watch:
        assert watch.headers["Date"] == T_DATE  # a watch: when its stream starts

    own.clock(advance=90)  # 04:05:06.789 + 90 s = 04:06:36.789
    assert own.http.get("/api/v1/namespaces").headers["Date"] == "Mon, 03 Feb 2031 04:06:36 GMT"

    own.clock(now="1999-12-31T23:59:59.999Z")  # back 31 years: a Friday
    assert own.http.get("/api/v1/namespaces").headers["Date"] == "Fri, 31 Dec 1999 23:59:59 GMT"
    # one Date header, not aiohttp's beside ours
    assert own.http.get("/api").headers.get_list("Date") == ["Fri, 31 Dec 1999 23:59:59 GMT"]


def test_date_runs_with_a_sped_up_clock(own: Own) -> None:
    own.clock(now=T.isoformat(), speed=3600)  # an hour per real second
    try:
        first = parse_http_date(own.http.get("/api/v1/namespaces").headers["Date"])
        time.sleep(1.0)
        second = parse_http_date(own.http.get("/api/v1/namespaces").headers["Date"])
    finally:
        own.clock(speed=0)
    assert first is not None and second is not None
    assert first >= T.replace(microsecond=0).timestamp()
    # A real second (or a little more) later: at least an hour on, less a truncated second.
    assert 3600 - 1 <= second - first < 30 * 3600


def test_the_operators_kube_and_the_plugins_client_learn_the_sandbox_time(own: Own) -> None:
    own.clock(now=T.isoformat(), speed=0)
    # Date says 04:05:06: the clocks read the middle of that second, 04:05:06.5, when the answer
    # arrives, and run on at the local rate (real seconds) after it.
    expected = T.replace(microsecond=500_000)

    operator_clock = ClusterClock()
    assert abs(operator_clock.now() - datetime.now(UTC)) < timedelta(seconds=1)  # not learned
    config: Any = kubernetes.config  # untyped package
    api_client = config.new_client_from_config(str(own.kubeconfig))
    try:
        names = Kube(api_client, clock=operator_clock).list_namespace_names()
    finally:
        api_client.close()
    assert "default" in names
    assert operator_clock.learned
    assert expected <= operator_clock.now() < expected + timedelta(seconds=2)

    plugin_clock = ClusterClock()
    client = Client(load_target(str(own.kubeconfig), None, None), clock=plugin_clock)
    try:
        client.list(Resource("", "v1", "namespaces", "Namespace"), None)
    finally:
        client.close()
    assert expected <= plugin_clock.now() < expected + timedelta(seconds=2)

    # The sandbox's clock set back two days: both follow at the next answer.
    own.clock(now=(T - timedelta(days=2)).isoformat())
    client = Client(load_target(str(own.kubeconfig), None, None), clock=plugin_clock)
    try:
        client.list(Resource("", "v1", "namespaces", "Namespace"), None)
    finally:
        client.close()
    back = datetime(2031, 2, 1, 4, 5, 6, 500_000, tzinfo=UTC)
    assert back <= plugin_clock.now() < back + timedelta(seconds=2)
