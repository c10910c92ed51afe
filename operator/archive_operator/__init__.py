"""Archive Operator: reconciles ArchiveSchedules into the CronJobs that run the archive runner."""
