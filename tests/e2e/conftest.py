"""E2E fixtures: the whole chain on the sandbox, or on a real cluster (tests/e2e/README.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import install_helm
from tests.fixtures.controlplane import forbidden_answers, install_chart, launched

from .harness import ROOT, CalDAV, Cluster, Operator, WebhookReceiver, user_namespace

# The chart's release on the real control plane; the operator authenticates as its ServiceAccount.
CHART_RELEASE, CHART_NS = "archive-operator", "archive-system"
OPERATOR_USERNAME = f"system:serviceaccount:{CHART_NS}:{CHART_RELEASE}"

EXTERNAL_KUBECONFIG = os.environ.get("ARCHIVE_E2E_KUBECONFIG")


@pytest.fixture(
    scope="session",
    params=["sandbox", pytest.param("real", marks=pytest.mark.real)],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Every e2e test runs twice: on the sandbox, and on the real control plane (controlplane/)
    or, when ARCHIVE_E2E_KUBECONFIG is set, on that cluster instead."""
    workdir = tmp_path_factory.mktemp("e2e")
    if request.param == "real" and EXTERNAL_KUBECONFIG:
        real = Cluster(Path(EXTERNAL_KUBECONFIG), workdir, None, pods_reach_loopback=False)
        real.kubectl("apply", "-f", str(ROOT / "crds"))
        yield real
        return
    if request.param == "real":
        # A control plane of its own (tests/fixtures/controlplane.py): the chart installed here
        # must not meet the ownership policies other real-tier modules install and remove.
        with launched(workdir / "controlplane") as real:
            identity, args = install_chart(real, install_helm(), CHART_RELEASE, CHART_NS)
            cluster = Cluster(
                Path(real.kubeconfig),
                workdir,
                None,
                pods_reach_loopback=True,
                operator_kubeconfig=identity,
                operator_args=args,
                real=real,
            )
            yield cluster
            denied = forbidden_answers(real, OPERATOR_USERNAME)
            assert not denied, f"the chart's RBAC refused the operator: {denied}"
        return
    sandbox: Any = request.getfixturevalue("sandbox")  # tests/fixtures/sandbox.py
    sandbox.apply_crds(*sorted((ROOT / "crds").glob("*.yaml")))
    yield Cluster(Path(sandbox.kubeconfig), workdir, sandbox.url, pods_reach_loopback=True)


@pytest.fixture(scope="session")
def caldav(request: pytest.FixtureRequest) -> CalDAV:
    url = os.environ.get("ARCHIVE_E2E_CALDAV_URL")
    if url:
        server = CalDAV(
            url,
            os.environ.get("ARCHIVE_E2E_CALDAV_USER", "alice"),
            os.environ.get("ARCHIVE_E2E_CALDAV_PASSWORD", "secret"),
        )
    else:
        radicale = request.getfixturevalue("radicale_server")
        server = CalDAV(radicale.base_url, radicale.username, radicale.password)
    server.http.request("PROPFIND", f"{server.base_url}/{server.user}/", headers={"Depth": "0"})
    return server


@pytest.fixture(scope="session")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    image = os.environ.get("ARCHIVE_E2E_RUNNER_IMAGE", "archive-runner:e2e")
    process = Operator(cluster, image, tmp_path_factory.mktemp("operator") / "operator.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        print(process.log.read_text(errors="replace")[-4000:])


@pytest.fixture
def namespace(cluster: Cluster, operator: Operator) -> Iterator[str]:
    """A fresh namespace the operator watches (its name matches e2e-*)."""
    with user_namespace(cluster, "e2e-") as name:
        yield name


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def sandbox_only(cluster: Cluster) -> None:
    if not cluster.is_sandbox:
        pytest.skip("moves the sandbox's clock; on a real cluster see tests/e2e/README.md")


def pods_reach_loopback(cluster: Cluster) -> None:
    """Skip where runner pods cannot reach a server of the test on 127.0.0.1 (an external
    cluster); the sandbox's and the launched control plane's node run pods on the host."""
    if not cluster.pods_reach_loopback:
        pytest.skip("needs a proxy on 127.0.0.1 that the runner pods reach (tests/e2e/README.md)")
