"""Kopf handlers. Importing this package registers them with kopf's default registry."""

from . import indexes, runs, schedules, startup

__all__ = ["indexes", "runs", "schedules", "startup"]
