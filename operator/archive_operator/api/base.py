"""Common model configuration and the Kubernetes condition shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class KubeModel(BaseModel):
    """Fields are snake_case in Python and camelCase on the wire, as in Kubernetes.

    Unknown fields are ignored: the API server prunes them anyway, and a newer CRD version
    must not make an older operator fail to parse.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_kube(self) -> dict[str, object]:
        """The wire form: camelCase, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def kube_time(moment: datetime) -> str:
    """A time as Kubernetes writes it: UTC, whole seconds, e.g. 2026-09-26T14:35:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(KubeModel):
    """metav1.Condition."""

    type: str
    status: ConditionStatus
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int | None = None


class ObjectMeta(KubeModel):
    """The metadata fields the operator reads."""

    name: str
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[dict[str, Any]] = Field(default_factory=list)
