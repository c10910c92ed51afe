"""The archive runner: copies a calendar's events for a date range into an archive. Knows nothing of Kubernetes."""
