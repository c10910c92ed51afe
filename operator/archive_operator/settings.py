"""Operator configuration, read once at start-up from ARCHIVE_OPERATOR_* environment variables.

| Variable                                   | Default                               |
|--------------------------------------------|---------------------------------------|
| ARCHIVE_OPERATOR_RUNNER_IMAGE              | ghcr.io/auriora/archive-runner:<ver>  |
| ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_POLICY  | IfNotPresent                          |
| ARCHIVE_OPERATOR_NAMESPACES                | "" (all namespaces), comma-separated  |
| ARCHIVE_OPERATOR_RESYNC_SECONDS            | 300 (periodic drift check)            |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PREFIX = "ARCHIVE_OPERATOR_"


def _package_version() -> str:
    try:
        return version("archive-operator")
    except PackageNotFoundError:  # running from a source tree
        return "latest"


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable, the value and the fix."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    runner_image: str = Field(
        default_factory=lambda: f"ghcr.io/auriora/archive-runner:{_package_version()}",
        min_length=1,
    )
    runner_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    namespaces: tuple[str, ...] = ()
    resync_seconds: float = Field(default=300.0, gt=0)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ARCHIVE_OPERATOR_* variables; SettingsError names the first bad one."""
        env = os.environ if environ is None else environ
        values = {
            field: env[PREFIX + field.upper()]
            for field in cls.model_fields
            if PREFIX + field.upper() in env
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            variable = PREFIX + field.upper()
            raise SettingsError(
                f"{variable}={values.get(field, '')!r}: {first['msg']}; "
                f"fix the variable or unset it for the default"
            ) from None
