"""Operator configuration, read once at start-up from ARCHIVE_OPERATOR_* environment variables.

The Helm chart sets every variable (docs/chart.md, "The operator's environment"); run outside
a cluster, the defaults below apply. A schedule's own values (spec.runner) win over the
runner defaults here.

| Variable                                           | Default                               |
|----------------------------------------------------|---------------------------------------|
| ARCHIVE_OPERATOR_RUNNER_IMAGE                      | ghcr.io/auriora/archive-runner:<ver>  |
| ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_POLICY          | IfNotPresent                          |
| ARCHIVE_OPERATOR_RUNNER_IMAGE_PULL_SECRETS         | "" (none), comma-separated names      |
| ARCHIVE_OPERATOR_RUNNER_RESOURCES                  | "" (none), JSON {requests, limits}    |
| ARCHIVE_OPERATOR_RUNNER_ACTIVE_DEADLINE_SECONDS    | 3600                                  |
| ARCHIVE_OPERATOR_RUNNER_BACKOFF_LIMIT              | 2                                     |
| ARCHIVE_OPERATOR_RUNNER_TTL_SECONDS_AFTER_FINISHED | 86400                                 |
| ARCHIVE_OPERATOR_NAMESPACES                        | "" (all namespaces), comma-separated  |
| ARCHIVE_OPERATOR_RESYNC_SECONDS                    | 300 (drift check and Healthy refresh) |
| ARCHIVE_OPERATOR_HEALTH_GRACE_SECONDS              | 3600 (open gap before DaysNotArchived)|
| ARCHIVE_OPERATOR_LOG_LEVEL                         | info (debug, info, warning, error)    |
| ARCHIVE_OPERATOR_LOG_FORMAT                        | json (json or text)                   |
| ARCHIVE_OPERATOR_METRICS_PORT                      | 0 (off)                               |
| ARCHIVE_OPERATOR_NOTIFY_ENABLED                    | true                                  |
| ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS           | "" (public addresses only), see below |
| ARCHIVE_OPERATOR_POD_NAMESPACE                     | "" (the operator's own namespace)     |
| ARCHIVE_OPERATOR_POD_NAME                          | "" (the host name), the Lease identity|
| ARCHIVE_OPERATOR_LEADER_ELECTION                   | false (the chart sets true)           |
| ARCHIVE_OPERATOR_LEASE_NAME                        | archive-operator                      |
| ARCHIVE_OPERATOR_LEASE_NAMESPACE                   | "" (ARCHIVE_OPERATOR_POD_NAMESPACE)   |
| ARCHIVE_OPERATOR_LEASE_DURATION_SECONDS            | 15 (whole seconds)                    |
| ARCHIVE_OPERATOR_RENEW_DEADLINE_SECONDS            | 10                                    |
| ARCHIVE_OPERATOR_RETRY_PERIOD_SECONDS              | 2                                     |
| ARCHIVE_OPERATOR_API_TIMEOUT_SECONDS               | 30 (one API request, see below)       |
| ARCHIVE_OPERATOR_WATCH_TIMEOUT_SECONDS             | 300 (a watch is renewed after it)     |

ARCHIVE_OPERATOR_API_TIMEOUT_SECONDS bounds every API request the operator makes (its own, and
kopf's: connect and whole request): a request the API server or a load balancer holds without
an answer fails after it and is retried, instead of stalling a handler. WATCH_TIMEOUT_SECONDS:
each watch asks the server to end after it and is given up by the client API_TIMEOUT_SECONDS
later, so a watch that hangs or falls silent is reopened (a fresh list, then events).

ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS: comma-separated exceptions to the webhook target check
(notify.py), which refuses hosts resolving to loopback, link-local (cloud metadata), private,
unspecified, multicast or other non-public addresses. Each entry is an IP address or network
(``127.0.0.1``, ``10.0.0.0/8``, ``fd00::/8``: such addresses are allowed), a host name
(``alertmanager.monitoring.svc``: that host is allowed whatever it resolves to) or ``*.domain``
(its subdomains). The chart sets it from ``notifications.webhookAllowedTargets``.

ARCHIVE_OPERATOR_LEADER_ELECTION: only the holder of the Lease LEASE_NAMESPACE/LEASE_NAME
(coordination.k8s.io) reconciles; the other replicas stand by (leader_election.py, with the
bound the three timings must keep: retry period x 1.2 < renew deadline < lease duration - 1 s;
client-go's defaults). ``archive-operator run --standalone`` turns it off whatever this says.
Outside the chart it is off, so an operator started by hand (the demo, the tests) runs alone
as before; the tests that exercise election set short timings here
(tests/real/test_leader_election_real.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .leader_election import (
    DEFAULT_LEASE_DURATION,
    DEFAULT_RENEW_DEADLINE,
    DEFAULT_RETRY_PERIOD,
    STOP_ALLOWANCE,
    timings_problem,
)

PREFIX = "ARCHIVE_OPERATOR_"


def _package_version() -> str:
    try:
        return version("archive-operator")
    except PackageNotFoundError:  # running from a source tree
        return "latest"


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable, the value and the fix."""


# A host name as a webhook URL may carry it (letters, digits, '-', '_'; dot-separated labels).
_HOST_NAME = re.compile(
    r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)

WebhookTarget = ipaddress.IPv4Network | ipaddress.IPv6Network | str


def parse_webhook_target(entry: str) -> WebhookTarget:
    """One entry of ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS: an IP network (an address is a
    one-address network), or a host name in lower case without a trailing dot (``*.domain``
    for its subdomains). ValueError names the entry and the forms it may take."""
    text = entry.strip()
    address = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return ipaddress.ip_network(address, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            network = ipaddress.ip_network(address, strict=False)
            raise ValueError(
                f"entry {entry!r} has host bits set; write the network as {network}"
            ) from None
    name = text.lower().rstrip(".")
    bare = name.removeprefix("*.")
    if len(name) <= 253 and _HOST_NAME.match(bare) and not _looks_numeric(bare):
        return name
    raise ValueError(
        f"entry {entry!r} is not an IP address, a network (10.0.0.0/8), a host name "
        "(hooks.example.com) or *.domain (*.svc.cluster.local)"
    )


def _looks_numeric(name: str) -> bool:
    """A malformed address (``10.0.0.300``, ``10.0.0.0/33`` never gets here) is no host name."""
    return all(label.isdigit() for label in name.split("."))


def _split_names(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    runner_image: str = Field(
        default_factory=lambda: f"ghcr.io/auriora/archive-runner:{_package_version()}",
        min_length=1,
    )
    runner_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    runner_image_pull_secrets: tuple[str, ...] = ()
    runner_resources: dict[str, dict[str, str]] = Field(default_factory=dict)
    runner_active_deadline_seconds: int = Field(default=3600, ge=1)
    runner_backoff_limit: int = Field(default=2, ge=0)
    runner_ttl_seconds_after_finished: int = Field(default=86400, ge=0)
    namespaces: tuple[str, ...] = ()
    resync_seconds: float = Field(default=300.0, gt=0)
    health_grace_seconds: float = Field(default=3600.0, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    notify_enabled: bool = True
    webhook_allowed_targets: tuple[str, ...] = ()
    pod_namespace: str = ""
    pod_name: str = ""
    leader_election: bool = False
    lease_name: str = Field(default="archive-operator", min_length=1, max_length=253)
    lease_namespace: str = ""
    # In this order: each is checked against the ones before it (_timings).
    retry_period_seconds: float = Field(default=DEFAULT_RETRY_PERIOD, gt=0)
    renew_deadline_seconds: float = Field(default=DEFAULT_RENEW_DEADLINE, gt=0)
    lease_duration_seconds: int = Field(default=DEFAULT_LEASE_DURATION, ge=1)
    api_timeout_seconds: float = Field(default=30.0, gt=0)
    watch_timeout_seconds: float = Field(default=300.0, gt=0)

    _split_namespaces = field_validator("namespaces", mode="before")(_split_names)
    _split_secrets = field_validator("runner_image_pull_secrets", mode="before")(_split_names)
    _split_targets = field_validator("webhook_allowed_targets", mode="before")(_split_names)

    @field_validator("webhook_allowed_targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each entry checked (parse_webhook_target) and written canonically."""
        return tuple(str(parse_webhook_target(entry)) for entry in value)

    @field_validator("renew_deadline_seconds", "lease_duration_seconds")
    @classmethod
    def _timings(cls, value: float, info: ValidationInfo) -> float:
        """The leader-election bound (leader_election.py), checked when the later value comes."""
        retry = info.data.get("retry_period_seconds")
        if retry is None:
            return value  # already reported
        if info.field_name == "renew_deadline_seconds":
            problem = timings_problem(value + STOP_ALLOWANCE + 1, value, retry)
        else:
            renew = info.data.get("renew_deadline_seconds")
            if renew is None:
                return value
            problem = timings_problem(value, renew, retry)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def election_namespace(self) -> str:
        """The Lease's namespace: LEASE_NAMESPACE, else the operator's own (POD_NAMESPACE)."""
        return self.lease_namespace or self.pod_namespace

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("runner_resources", mode="before")
    @classmethod
    def _resources(cls, value: object) -> object:
        """JSON such as {"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}}."""
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("is not JSON") from None
        if not isinstance(value, dict) or not set(value) <= {"requests", "limits"}:
            raise ValueError("must be an object with only requests and limits")
        parsed: dict[str, dict[str, str]] = {}
        for key, quantities in value.items():
            if quantities is None:
                continue
            if not isinstance(quantities, dict):
                raise ValueError(f"{key} must be an object of quantities")
            parsed[key] = {str(name): str(q) for name, q in quantities.items()}
        return parsed

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ARCHIVE_OPERATOR_* variables; SettingsError names the first bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
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
            message = str(first["msg"]).removeprefix("Value error, ")
            raise SettingsError(
                f"{variable}={values.get(field, '')!r}: {message}; "
                f"fix the variable or unset it for the default"
            ) from None
