"""Finding the schedule a command acts on: by name or by ``--user`` (its spec.user)."""

from __future__ import annotations

from typing import Any

from .app import App
from .client import SCHEDULES
from .errors import ApiError, BadInput, NotFound, suggest

Obj = dict[str, Any]


def _names(app: App) -> list[str]:
    items = app.client.list(SCHEDULES, app.ns).get("items") or []
    return [i["metadata"]["name"] for i in items]


def not_found(app: App, name: str) -> NotFound:
    """A not-found error that names close schedule names (one extra list call, error path only)."""
    try:
        hint = suggest(name, _names(app))
    except ApiError:
        hint = ""
    return NotFound(f'schedule "{name}" not found in namespace "{app.ns}"{hint}')


def by_user(app: App, user: str) -> Obj:
    items = app.client.list(SCHEDULES, app.ns).get("items") or []
    matches = [i for i in items if (i.get("spec") or {}).get("user") == user]
    if not matches:
        users = [str((i.get("spec") or {}).get("user", "")) for i in items]
        raise NotFound(
            f'no schedule for user "{user}" in namespace "{app.ns}"{suggest(user, users)}'
        )
    if len(matches) > 1:
        names = ", ".join(sorted(m["metadata"]["name"] for m in matches))
        raise BadInput(f'user "{user}" has several schedules ({names}); name the one you mean')
    found: Obj = matches[0]
    return found


def check_choice(name: str | None, user: str | None) -> None:
    if name and user:
        raise BadInput("give a schedule NAME or --user, not both")
    if not name and not user:
        raise BadInput("name a schedule (NAME) or pass --user USER")


def schedule(app: App, name: str | None, user: str | None) -> Obj:
    """The schedule object: one GET by name, or one LIST filtered by user."""
    check_choice(name, user)
    if user:
        return by_user(app, user)
    assert name is not None
    try:
        found: Obj = app.client.get(SCHEDULES, app.ns, name)
        return found
    except ApiError as exc:
        if exc.code == 404:
            raise not_found(app, name) from exc
        raise


def name_of(app: App, name: str | None, user: str | None) -> str:
    """Just the name: no request when given by name (the write itself checks existence)."""
    check_choice(name, user)
    if name:
        return name
    assert user is not None
    return str(by_user(app, user)["metadata"]["name"])
