"""Bearer tokens to users. Identities are recorded per request; RBAC is not enforced."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError

DEFAULT_ADMIN_TOKEN = "sandbox-admin-token"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ("system:authenticated",)


ADMIN = User("sandbox-admin", ("system:masters", "system:authenticated"))
ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


class Users:
    def __init__(self) -> None:
        self._by_token: dict[str, User] = {DEFAULT_ADMIN_TOKEN: ADMIN}

    def add(self, token: str, name: str, groups: tuple[str, ...] = ()) -> User:
        user = User(name, (*groups, "system:authenticated"))
        self._by_token[token] = user
        return user

    def authenticate(
        self,
        authorization: str | None,
        impersonate_user: str | None = None,
        impersonate_groups: tuple[str, ...] = (),
    ) -> User:
        """The requesting user; `Impersonate-User` is honoured for any authenticated caller."""
        if not authorization:
            user = ANONYMOUS
        else:
            scheme, _, token = authorization.partition(" ")
            found = self._by_token.get(token.strip()) if scheme.lower() == "bearer" else None
            if found is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            user = found
        if impersonate_user:
            return User(impersonate_user, (*impersonate_groups, "system:authenticated"))
        return user

    @staticmethod
    def parse_spec(spec: str) -> tuple[str, str, tuple[str, ...]]:
        """`TOKEN=USER[:GROUP,GROUP]` as given on the command line."""
        token, sep, rest = spec.partition("=")
        if not sep or not token or not rest:
            raise ValueError(f"--user {spec!r}: expected TOKEN=USER[:GROUP,...]")
        name, _, groups = rest.partition(":")
        return token, name, tuple(g for g in groups.split(",") if g)
