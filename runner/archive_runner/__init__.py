"""The archive runner: copies a calendar's events for a date range into an archive.

It knows nothing of Kubernetes (see docs/runner.md).
"""
