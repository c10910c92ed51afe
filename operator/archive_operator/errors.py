"""The operator's own error types; handlers decide from these whether to retry."""

from __future__ import annotations


class SpecError(ValueError):
    """The spec passed the API's validation but the operator cannot act on it.

    Permanent: retrying cannot help until the spec changes. ``reason`` is the CamelCase
    condition reason; the message names the field, the value, what is wrong and the fix.
    """

    def __init__(self, reason: str, field: str, value: object, problem: str, fix: str) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        super().__init__(f"{field}: {value!r} {problem}; {fix}")


class KubeError(Exception):
    """A Kubernetes API request failed."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(KubeError):
    """404: the object does not exist (any more)."""


class Conflict(KubeError):
    """409: AlreadyExists, or a stale resourceVersion. Retry after re-reading."""


class Rejected(KubeError):
    """400/422 and other 4xx: the API refused the object as it is. Permanent for this spec."""


class Transient(KubeError):
    """5xx, 429, timeouts, connection errors: retry later."""
