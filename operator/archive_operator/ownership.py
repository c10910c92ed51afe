"""Pure: may this schedule use the credentials Secret it names?

A user's credentials Secret says whose it is: the annotation ``archive.auriora.io/user`` holds
the user's name exactly as ``spec.user`` does (an annotation, not a label: user names such as
bob@example.com are not label values). A schedule may use a Secret only when that annotation
names the schedule's own user. Without the rule, Alice could name Bob's Secret in her own
schedule, point the source at a server she controls and receive his username and password
(the runner mounts whatever Secret the schedule names: the operator would be the confused
deputy).

The operator checks it at every reconcile, before it creates or updates any CronJob or Job:
a schedule that fails it is Ready=False (so its CronJobs are left as they were and its runs
wait) with a reason naming the Secret and the rule, and a Warning Event. The Secret is read as
metadata only (kube.secret_metadata).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import constants as c
from .api.schedule import ArchiveSchedule

OWNER_ANNOTATION = c.ANNOTATION_USER  # archive.auriora.io/user

SECRET_NOT_FOUND = "CredentialsSecretNotFound"
NOT_OWNED = "CredentialsNotOwned"
UNVERIFIABLE = "CredentialsUnverifiable"


def credentials_problem(
    schedule: ArchiveSchedule, secret: Mapping[str, Any] | None
) -> tuple[str, str] | None:
    """(reason, message) if the schedule may not use its credentials Secret, else None.

    ``secret``: the Secret's metadata, None if it does not exist. Schedules without
    credentials have nothing to check.
    """
    ref = schedule.spec.credentials_secret_ref
    if ref is None:
        return None
    user = schedule.spec.user
    field = f"spec.credentialsSecretRef.name: Secret {ref.name!r}"
    if secret is None:
        return (
            SECRET_NOT_FOUND,
            f"{field} does not exist in namespace {schedule.metadata.namespace!r}; create it "
            f"with the calendar credentials and the annotation {OWNER_ANNOTATION}={user} "
            "(runs wait until it exists)",
        )
    owner = (secret.get("annotations") or {}).get(OWNER_ANNOTATION)
    if owner is None:
        return (
            NOT_OWNED,
            f"{field} has no annotation {OWNER_ANNOTATION}, so it cannot be shown to belong "
            f"to user {user!r}; if it holds {user}'s credentials, mark it: kubectl annotate "
            f"secret {ref.name} {OWNER_ANNOTATION}={user} --overwrite",
        )
    if owner != user:
        return (
            NOT_OWNED,
            f"{field} belongs to user {owner!r} ({OWNER_ANNOTATION}), not to {user!r}: a "
            f"schedule may use only its own user's credentials; name a Secret of {user!r}",
        )
    return None
