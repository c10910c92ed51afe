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
