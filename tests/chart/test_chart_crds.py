"""The chart ships exactly the canonical CRDs from crds/ (Helm's crds/ folder: install-only)."""

from __future__ import annotations

import yaml

from tests.chart.helm import CANONICAL_CRDS, CHART, Helm, of_kind


def test_chart_crds_are_byte_identical_copies_of_the_canonical_crds() -> None:
    canonical = {p.name: p.read_bytes() for p in CANONICAL_CRDS.glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert canonical, "no CRDs found in crds/"
    assert sorted(shipped) == sorted(canonical), "the chart's crds/ must hold the same files"
    stale = sorted(name for name in canonical if shipped[name] != canonical[name])
    assert not stale, (
        f"charts/archive-operator/crds/ differs from crds/ for {stale}: "
        "copy them again with `cp crds/*.yaml charts/archive-operator/crds/`"
    )


def test_helm_installs_the_crds_only_through_the_crds_folder(helm: Helm) -> None:
    """No template renders a CRD (upgrades never touch them); --include-crds adds both."""
    assert not of_kind(helm.render(), "CustomResourceDefinition")
    with_crds = helm.render(include_crds=True)
    names = sorted(m["metadata"]["name"] for m in of_kind(with_crds, "CustomResourceDefinition"))
    assert names == ["archiveruns.archive.auriora.io", "archiveschedules.archive.auriora.io"]


def test_helm_show_crds_prints_the_canonical_definitions(helm: Helm) -> None:
    done = helm.run("show", "crds", str(CHART))
    assert done.returncode == 0, done.stderr
    shown = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    canonical = [yaml.safe_load(p.read_text()) for p in sorted(CANONICAL_CRDS.glob("*.yaml"))]
    key = lambda crd: crd["metadata"]["name"]  # noqa: E731
    assert sorted(shown, key=key) == sorted(canonical, key=key)
