"""The plugin's errors: one line each, with a documented exit code (docs/plugin.md)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

# Exit codes (documented in docs/plugin.md; keep the two in step).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FORBIDDEN = 4
EXIT_INVALID = 5
EXIT_UNREACHABLE = 6
EXIT_NOT_CONFIRMED = 7
EXIT_UNHEALTHY = 8
EXIT_RUN_PARTIAL = 10
EXIT_RUN_FAILED = 11
EXIT_RUN_SKIPPED = 12
EXIT_WAIT_TIMEOUT = 13
EXIT_RUN_BLOCKED = 14


class CliError(Exception):
    """An error the user sees as ``error: <message>`` and an exit code."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self)


class BadInput(CliError):
    """Bad flags or arguments, found before any request: nothing was changed."""

    exit_code = EXIT_USAGE


class NotFound(CliError):
    exit_code = EXIT_NOT_FOUND


class Forbidden(CliError):
    exit_code = EXIT_FORBIDDEN


class Invalid(CliError):
    """The API server refused the object (422 Invalid, 409 AlreadyExists/Conflict, 400)."""

    exit_code = EXIT_INVALID


class Unreachable(CliError):
    exit_code = EXIT_UNREACHABLE


class ConfigError(CliError):
    """The kubeconfig cannot be used (no file, no context, unsupported credentials)."""

    exit_code = EXIT_ERROR


def suggest(name: str, candidates: Iterable[str]) -> str:
    """``; did you mean "x" or "y"?`` for close names, else ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f'"{c}"' for c in close) + "?"


class ApiError(CliError):
    """A request the API server answered with an error Status.

    ``verb``, ``resource``, ``namespace`` and ``name`` describe the request (they word the
    forbidden message); ``status`` is the decoded Kubernetes Status, when there is one.
    """

    def __init__(
        self,
        code: int,
        status: dict[str, Any],
        *,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
    ) -> None:
        self.code = code
        self.status = status
        self.reason = str(status.get("reason") or "")
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        super().__init__(describe_api_error(self), exit_code_for(code))


def exit_code_for(code: int) -> int:
    if code == 404:
        return EXIT_NOT_FOUND
    if code in (401, 403):
        return EXIT_FORBIDDEN
    if code in (400, 409, 422):
        return EXIT_INVALID
    if code in (429, 503, 504):
        return EXIT_UNREACHABLE
    return EXIT_ERROR


def _where(namespace: str | None) -> str:
    return f' in namespace "{namespace}"' if namespace else " in all namespaces"


def _causes(status: dict[str, Any]) -> list[str]:
    details = status.get("details") or {}
    lines = []
    for cause in details.get("causes") or []:
        field = str(cause.get("field") or "").strip()
        message = str(cause.get("message") or cause.get("reason") or "").strip()
        lines.append(f"{field}: {message}" if field else message)
    return [line for line in lines if line]


def describe_api_error(error: ApiError) -> str:
    """One readable line for an error Status (never the raw JSON)."""
    status, code = error.status, error.code
    message = str(status.get("message") or "").strip()
    target = f'{error.resource} "{error.name}"' if error.name else error.resource
    if code == 401:
        return (
            "unauthorized: the cluster did not accept your credentials"
            " (check --context/--kubeconfig)"
        )
    if code == 403:
        return (
            f"forbidden: you may not {error.verb} {error.resource}{_where(error.namespace)}"
            f" (ask an admin for RBAC permission to {error.verb} {error.resource})"
        )
    if code == 404:
        return f"{target} not found{_where(error.namespace)}"
    if code == 422 or error.reason == "Invalid":
        causes = _causes(status)
        kind = (status.get("details") or {}).get("kind") or error.resource
        subject = f'{kind} "{error.name}"' if error.name else kind
        return f"{subject} is invalid: " + ("; ".join(causes) if causes else message)
    if code == 409 and error.reason == "AlreadyExists":
        return f"{target} already exists{_where(error.namespace)}"
    if code == 409:
        return f"{target} was changed by someone else meanwhile; run the command again"
    return message or f"the API server answered {code} {error.reason}".strip()
