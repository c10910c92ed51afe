"""Errors that end a run, each mapped to the exit code the operator acts on."""

from __future__ import annotations

from .contract import ExitCode

__all__ = [
    "AuthError",
    "ConfigError",
    "ExitCode",
    "NotFoundError",
    "RetryLaterError",
    "RunnerError",
    "ServerError",
    "UnreachableError",
]


class RunnerError(Exception):
    """An error that stops the run as a whole."""

    exit_code: ExitCode = ExitCode.CRASHED


class ConfigError(RunnerError):
    """A setting is missing or invalid. The message names the setting and the fix."""

    exit_code = ExitCode.BAD_CONFIGURATION


class AuthError(RunnerError):
    """A server rejected the credentials (401/403)."""

    exit_code = ExitCode.BAD_CONFIGURATION


class NotFoundError(RunnerError):
    """A configured calendar, file or directory does not exist."""

    exit_code = ExitCode.BAD_CONFIGURATION


class UnreachableError(RunnerError):
    """A server could not be reached, timed out or closed the connection."""

    exit_code = ExitCode.UNREACHABLE


class ServerError(RunnerError):
    """A server answered a whole-run request (a read) with an unexpected status."""

    exit_code = ExitCode.UNREACHABLE


class RetryLaterError(RunnerError):
    """A server asked to come back later (408, 429, 502, 503, 504, 507) and no wait for it could
    end before the run's deadline: the run stops so that the Job's retry completes it."""

    exit_code = ExitCode.UNREACHABLE
