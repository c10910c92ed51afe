"""Errors that end a run, each mapped to the exit code the operator acts on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (the operator's contract; documented in docs/runner.md)."""

    SUCCEEDED = 0
    CRASHED = 1  # an unexpected exception: a bug
    USAGE = 2  # click's own usage errors (unknown option, ...)
    PARTIAL = 3  # some objects failed; the rest was archived
    BAD_CONFIGURATION = 4  # bad settings or rejected credentials: retrying will not help
    UNREACHABLE = 5  # a server could not be reached or went away: worth retrying


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
