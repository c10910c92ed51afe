"""notifications.webhookAllowedTargets reaches the operator as a setting it accepts."""

from __future__ import annotations

import pytest

from tests.chart.helm import Helm, Manifest, container_env, of_kind


def operator_env(manifests: list[Manifest]) -> dict[str, str]:
    (deployment,) = of_kind(manifests, "Deployment")
    return container_env(deployment)


def test_by_default_no_webhook_target_is_allowed(rendered: dict[str, list[Manifest]]) -> None:
    for name, manifests in rendered.items():
        assert operator_env(manifests)["ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS"] == "", name


def test_allowed_targets_reach_the_operator_settings(helm: Helm) -> None:
    settings_module = pytest.importorskip("archive_operator.settings")
    manifests = helm.render(
        set_values=[
            "notifications.webhookAllowedTargets={alertmanager.monitoring.svc,10.20.0.0/16,"
            "*.svc.cluster.local,fd00::/8}"
        ]
    )
    env = operator_env(manifests)
    assert env["ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS"] == (
        "alertmanager.monitoring.svc,10.20.0.0/16,*.svc.cluster.local,fd00::/8"
    )
    settings = settings_module.Settings.from_env(env)
    assert settings.webhook_allowed_targets == (
        "alertmanager.monitoring.svc",
        "10.20.0.0/16",
        "*.svc.cluster.local",
        "fd00::/8",
    )
