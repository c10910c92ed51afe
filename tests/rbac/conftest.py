"""Fixtures for the RBAC proof: the real helm binary (scripts/helm/install_helm.py)."""

from __future__ import annotations

import pytest

from tests.chart.helm import Helm, install_helm


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(install_helm())
