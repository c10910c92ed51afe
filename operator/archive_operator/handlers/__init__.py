"""Kopf handlers. Importing this package registers them with kopf's default registry."""

from . import schedules, startup

__all__ = ["schedules", "startup"]
