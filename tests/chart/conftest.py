"""Fixtures for the chart checks: the real helm binary and the chart rendered per values set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.helm import CI_VALUES, Helm, Manifest, install_helm

# Each values set the chart is checked with: the defaults and every ci/*-values.yaml.
VALUES_SETS: dict[str, tuple[Path, ...]] = {
    "default": (),
    **{path.name.removesuffix("-values.yaml"): (path,) for path in CI_VALUES},
}


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(install_helm())


@pytest.fixture(scope="session")
def rendered(helm: Helm) -> dict[str, list[Manifest]]:
    """Every values set rendered once per session (helm template takes ~0.1 s each)."""
    return {name: helm.render(files) for name, files in VALUES_SETS.items()}
