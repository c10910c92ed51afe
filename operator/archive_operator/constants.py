"""Names shared by everything the operator creates: API coordinates, labels, paths.

Label values must be valid Kubernetes label values (at most 63 characters of
``[A-Za-z0-9._-]``, starting and ending with a letter or digit). A user such as
``bob@example.com`` is not, so :func:`label_value` turns it into one: a user that already
is a valid label value is used unchanged; any other is sanitised (invalid characters become
``-``) and suffixed with 10 hex characters of its SHA-256, so two users never share a value.
The same applies to schedule names longer than 63 characters. The exact user is kept in the
``archive.auriora.io/user`` annotation.
"""

from __future__ import annotations

import hashlib
import re

GROUP = "archive.auriora.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
SCHEDULE_KIND = "ArchiveSchedule"
SCHEDULE_PLURAL = "archiveschedules"
RUN_KIND = "ArchiveRun"
RUN_PLURAL = "archiveruns"

OPERATOR_NAME = "archive-operator"
RUNNER_NAME = "archive-runner"
FIELD_MANAGER = OPERATOR_NAME

LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_SCHEDULE = f"{GROUP}/schedule"
LABEL_USER = f"{GROUP}/user"
LABEL_ENTRY = f"{GROUP}/entry"
LABEL_RUN = f"{GROUP}/run"
LABEL_TRIGGER = f"{GROUP}/trigger"
ANNOTATION_USER = f"{GROUP}/user"
ANNOTATION_SCHEDULED_TIME = f"{GROUP}/scheduled-time"
# On the record of a scheduled time the CronJob did not start (missed.py): why, in words.
ANNOTATION_MISSED_REASON = f"{GROUP}/missed-reason"
ANNOTATION_MISSED_MESSAGE = f"{GROUP}/missed-message"
# Set by the Job controller on a Job's pods (Kubernetes >= 1.27).
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
# Set by the CronJob controller on the Jobs it creates (Kubernetes >= 1.28).
ANNOTATION_CRONJOB_SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"

# Kopf's own bookkeeping keys (only written when a handler must be retried, see docs/operator.md).
KOPF_PREFIX = f"operator.{GROUP}"

# CronJob names are limited to 52 characters: the Job controller appends "-<11 digits>".
MAX_CRONJOB_NAME = 52
# A Job's name is a pod label value (batch.kubernetes.io/job-name): at most 63 characters.
MAX_JOB_NAME = 63

RUNNER_CONTAINER = "runner"
RUNNER_UID = 10001  # the runner image's user (runner/Dockerfile)
CREDENTIALS_DIR = "/var/run/secrets/archive"
TERMINATION_LOG = "/dev/termination-log"
ARCHIVE_MOUNT = "/archive"
TMP_MOUNT = "/tmp"

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def label_value(text: str) -> str:
    """A label value standing for ``text`` (a user or a schedule name; see the module doc)."""
    if is_label_value(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:52].strip("-._")
    suffix = short_hash(text, 10)
    return f"{cleaned}-{suffix}" if cleaned else suffix


def common_labels() -> dict[str, str]:
    return {
        LABEL_NAME: RUNNER_NAME,
        LABEL_MANAGED_BY: OPERATOR_NAME,
        LABEL_PART_OF: OPERATOR_NAME,
    }


def managed_selector() -> str:
    """Label selector of everything the operator made (CronJobs, Jobs, pods)."""
    return f"{LABEL_MANAGED_BY}={OPERATOR_NAME}"


def owned_selector(schedule_name: str) -> str:
    """Label selector of the CronJobs the operator made for one schedule."""
    return f"{managed_selector()},{LABEL_SCHEDULE}={label_value(schedule_name)}"


def cronjob_name(schedule_name: str, entry_name: str) -> str:
    """``<schedule>-<entry>``; if longer than 52 characters, cut and add an 8-hex hash suffix.

    The hash covers both names, so two long names that share a prefix still differ.
    """
    name = f"{schedule_name}-{entry_name}"
    if len(name) <= MAX_CRONJOB_NAME:
        return name
    suffix = short_hash(f"{schedule_name}/{entry_name}")
    prefix = name[: MAX_CRONJOB_NAME - len(suffix) - 1].rstrip("-.")
    return f"{prefix}-{suffix}"


def run_job_name(run_name: str) -> str:
    """The Job of a manual or backfill run: the run's name, cut and hashed above 63 characters.

    Deterministic, so a retried reconcile or a restarted operator finds the Job it created.
    """
    if len(run_name) <= MAX_JOB_NAME:
        return run_name
    suffix = short_hash(run_name)
    return f"{run_name[: MAX_JOB_NAME - len(suffix) - 1].rstrip('-.')}-{suffix}"


def schedule_selector(schedule_name: str) -> str:
    """Label selector of everything the operator made for one schedule (CronJobs, Jobs, pods)."""
    return owned_selector(schedule_name)
