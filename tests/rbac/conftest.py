"""Fixtures for the RBAC proof: the real helm binary (scripts/helm/install_helm.py), and the
operator's real requests in both watch scopes (scenario.py; one run each per session, about
15 s together, shared by test_operator_rbac.py and test_rbac_scope.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chart.helm import Helm, install_helm
from tests.fixtures.radicale import RadicaleServer

from .checks import ALL_NAMESPACES_VALUES, LISTED, LISTED_VALUES, operator_args, render
from .rbac import Request
from .requests import requests_of
from .scenario import OPERATOR, Cluster, full_lifecycle, short_lifecycle


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(install_helm())


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("rbac"))
    yield cluster
    cluster.close()


def operator_log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="session")
def all_namespaces_requests(
    cluster: Cluster, helm: Helm, radicale_server: RadicaleServer
) -> list[Request]:
    """Every code path (full_lifecycle) in namespace team-a, the operator watching all."""
    args = operator_args(render(helm, ALL_NAMESPACES_VALUES))
    assert "--all-namespaces" in args
    cluster.create_namespace("team-a")
    mark = cluster.sandbox.requests.mark()
    with cluster.operator(*args) as log:
        try:
            full_lifecycle(
                cluster,
                "team-a",
                radicale_server.base_url,
                radicale_server.new_collection,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\noperator log:\n{operator_log_tail(log)}") from None
    return requests_of(cluster.records(mark), OPERATOR.name)


@pytest.fixture(scope="session")
def listed_requests(cluster: Cluster, helm: Helm, radicale_server: RadicaleServer) -> list[Request]:
    """A short lifecycle in team-b, the operator watching team-b and team-c only."""
    args = operator_args(render(helm, LISTED_VALUES))
    assert args == ["--standalone", *(f"--namespace={n}" for n in LISTED)]
    for namespace in LISTED:
        cluster.create_namespace(namespace)
    mark = cluster.sandbox.requests.mark()
    with cluster.operator(*args) as log:
        try:
            short_lifecycle(cluster, LISTED[0], radicale_server.new_collection)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\noperator log:\n{operator_log_tail(log)}") from None
    return requests_of(cluster.records(mark), OPERATOR.name)
