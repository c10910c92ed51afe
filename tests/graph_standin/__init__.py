"""A local stand-in for the documented subset of Microsoft Graph v1.0 (calendars, events,
calendarView and its delta) and the Microsoft identity platform's token endpoint. Not Microsoft
365; see README.md for what it covers and how it differs."""

from .server import GraphStandIn, RecordedRequest

__all__ = ["GraphStandIn", "RecordedRequest"]
