"""Archive Operator: reconciles ArchiveSchedules into CronJobs and Jobs that run the archive runner."""
