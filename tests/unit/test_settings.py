"""Operator settings from the environment."""

from __future__ import annotations

import pytest
from archive_operator.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.runner_image.startswith("ghcr.io/auriora/archive-runner:")
    assert settings.runner_image_pull_policy == "IfNotPresent"
    assert settings.namespaces == ()
    assert settings.resync_seconds == 300


def test_reads_prefixed_variables() -> None:
    settings = Settings.from_env(
        {
            "ARCHIVE_OPERATOR_RUNNER_IMAGE": "registry/runner:1",
            "ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_POLICY": "Always",
            "ARCHIVE_OPERATOR_NAMESPACES": "a, b,,c",
            "ARCHIVE_OPERATOR_RESYNC_SECONDS": "2.5",
            "UNRELATED": "x",
        }
    )
    assert settings.runner_image == "registry/runner:1"
    assert settings.runner_image_pull_policy == "Always"
    assert settings.namespaces == ("a", "b", "c")
    assert settings.resync_seconds == 2.5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_POLICY", "sometimes"),
        ("ARCHIVE_OPERATOR_RESYNC_SECONDS", "-1"),
        ("ARCHIVE_OPERATOR_RESYNC_SECONDS", "often"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value).startswith(f"{variable}={value!r}: ")


def test_reads_the_charts_environment() -> None:
    settings = Settings.from_env(
        {
            "ARCHIVE_OPERATOR_LOG_LEVEL": "DEBUG",
            "ARCHIVE_OPERATOR_LOG_FORMAT": "text",
            "ARCHIVE_OPERATOR_METRICS_PORT": "9090",
            "ARCHIVE_OPERATOR_NOTIFY_ENABLED": "false",
            "ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_SECRETS": "registry, other",
            "ARCHIVE_OPERATOR_RUNNER_ACTIVE_DEADLINE_SECONDS": "7200",
            "ARCHIVE_OPERATOR_RUNNER_RESOURCES": (
                '{"requests":{"cpu":"50m"},"limits":{"memory":"256Mi"}}'
            ),
            "ARCHIVE_OPERATOR_RUNNER_BACKOFF_LIMIT": "0",
            "ARCHIVE_OPERATOR_RUNNER_TTL_SECONDS_AFTER_FINISHED": "600",
            "ARCHIVE_OPERATOR_POD_NAMESPACE": "archive-system",
        }
    )
    assert (settings.log_level, settings.log_format) == ("debug", "text")
    assert settings.metrics_port == 9090
    assert settings.notify_enabled is False
    assert settings.runner_image_pull_secrets == ("registry", "other")
    assert settings.runner_resources == {"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}}
    assert settings.runner_active_deadline_seconds == 7200
    assert settings.runner_backoff_limit == 0
    assert settings.runner_ttl_seconds_after_finished == 600
    assert settings.pod_namespace == "archive-system"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("ARCHIVE_OPERATOR_RUNNER_RESOURCES", "{cpu", "is not JSON"),
        ("ARCHIVE_OPERATOR_RUNNER_RESOURCES", '{"cpu": "1"}', "only requests and limits"),
        ("ARCHIVE_OPERATOR_METRICS_PORT", "70000", "less than or equal to 65535"),
        ("ARCHIVE_OPERATOR_LOG_FORMAT", "xml", "'json' or 'text'"),
    ],
)
def test_bad_chart_values_are_named(variable: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert str(caught.value).startswith(f"{variable}={value!r}: ")
    assert problem in str(caught.value)


def test_runner_defaults_reach_the_pods() -> None:
    from archive_operator.api import ArchiveSchedule
    from archive_operator.render import render_cronjobs

    schedule = ArchiveSchedule.from_body(
        {
            "metadata": {"name": "a", "namespace": "ns", "uid": "u"},
            "spec": {
                "user": "a",
                "schedules": [{"name": "n", "daily": {"at": "01:00"}}],
                "source": {"caldav": {"url": "https://c/a/"}},
                "destination": {"caldav": {"url": "https://c/b/"}},
            },
        }
    )
    settings = Settings.from_env(
        {
            "ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_SECRETS": "registry",
            "ARCHIVE_OPERATOR_RUNNER_RESOURCES": '{"limits":{"memory":"256Mi"}}',
        }
    )
    pod = render_cronjobs(schedule, settings)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["containers"][0]["resources"] == {"limits": {"memory": "256Mi"}}
    assert pod["securityContext"]["runAsUser"] == 10001


def test_webhook_allowed_targets_are_read_checked_and_written_canonically() -> None:
    assert Settings.from_env({}).webhook_allowed_targets == ()
    settings = Settings.from_env(
        {
            "ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS": (
                "127.0.0.1, [::1],10.0.0.0/8,,Alertmanager.Monitoring.svc., *.svc.cluster.local"
            )
        }
    )
    assert settings.webhook_allowed_targets == (
        "127.0.0.1/32",
        "::1/128",
        "10.0.0.0/8",
        "alertmanager.monitoring.svc",
        "*.svc.cluster.local",
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.0.0.1/8", "entry '10.0.0.1/8' has host bits set; write the network as 10.0.0.0/8"),
        ("10.0.0.0/33", "entry '10.0.0.0/33' is not an IP address, a network (10.0.0.0/8)"),
        ("10.0.0.300", "entry '10.0.0.300' is not an IP address"),
        ("https://hooks.example.com/x", "entry 'https://hooks.example.com/x' is not an IP address"),
        ("hooks.example.com:8443", "entry 'hooks.example.com:8443' is not an IP address"),
        ("*", "entry '*' is not an IP address"),
        ("ok.example.com, a..b", "entry 'a..b' is not an IP address"),
    ],
)
def test_bad_webhook_allowed_targets_name_the_entry_and_the_forms(value: str, problem: str) -> None:
    variable = "ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}={value!r}: {problem}")
    assert message.endswith("; fix the variable or unset it for the default")
