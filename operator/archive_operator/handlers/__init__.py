"""Kopf handlers. Importing this package registers them with kopf's default registry."""

from . import runs, schedules, startup

__all__ = ["runs", "schedules", "startup"]
