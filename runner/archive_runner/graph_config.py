"""Microsoft Graph settings of a run: parsed and checked before any request (config.py calls it).

A Graph side (source or archive) is an app of a tenant (client credentials: a client secret or
a certificate, from the credentials Secret), a mailbox and a calendar in it. Errors name the
flag, the environment variable and the ArchiveSchedule field, the value and the fix, as
config.py's do. Credentials go only to the app they were given for: an archive whose app is
the source's (same tenant and client id) uses the source's when it has none of its own; any
other app must have its own, or the run is refused before any request.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from . import contract
from .errors import ConfigError

Role = Literal["source", "destination"]
DEFAULT_ENDPOINT = "https://graph.microsoft.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# option key -> (flag, environment variable); config.SETTINGS includes these (cli.py's options).
GRAPH_SETTINGS: dict[str, tuple[str, str]] = {
    "source_graph_tenant_id": ("--source-graph-tenant-id", contract.ENV_SOURCE_GRAPH_TENANT_ID),
    "source_graph_client_id": ("--source-graph-client-id", contract.ENV_SOURCE_GRAPH_CLIENT_ID),
    "source_graph_mailbox": ("--source-graph-mailbox", contract.ENV_SOURCE_GRAPH_MAILBOX),
    "source_graph_calendar": ("--source-graph-calendar", contract.ENV_SOURCE_GRAPH_CALENDAR),
    "destination_graph_tenant_id": (
        "--destination-graph-tenant-id",
        contract.ENV_DESTINATION_GRAPH_TENANT_ID,
    ),
    "destination_graph_client_id": (
        "--destination-graph-client-id",
        contract.ENV_DESTINATION_GRAPH_CLIENT_ID,
    ),
    "destination_graph_mailbox": (
        "--destination-graph-mailbox",
        contract.ENV_DESTINATION_GRAPH_MAILBOX,
    ),
    "destination_graph_calendar": (
        "--destination-graph-calendar",
        contract.ENV_DESTINATION_GRAPH_CALENDAR,
    ),
    "graph_endpoint": ("--graph-endpoint", contract.ENV_GRAPH_ENDPOINT),
    "graph_authority_host": ("--graph-authority-host", contract.ENV_GRAPH_AUTHORITY_HOST),
}
# Where an ArchiveSchedule sets each (named in errors for a user of the operator).
_FIELDS = {
    "tenant_id": "tenantId",
    "client_id": "clientId",
    "mailbox": "mailbox",
    "calendar": "calendar",
}
_KINDS = ("SECRET", "CERTIFICATE")
_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.S)


class GraphApp(BaseModel):
    """An app registration's client credentials: a client secret or a certificate (PEM with
    the certificate and its private key)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    client_id: str
    client_secret: SecretStr | None = None
    certificate: SecretStr | None = None  # PEM: CERTIFICATE and PRIVATE KEY blocks

    @property
    def kind(self) -> str:
        """What the app authenticates with, for logs (never the values)."""
        if self.certificate is not None:
            return "client-certificate"
        return "client-secret" if self.client_secret is not None else "none"

    def same_app(self, other: GraphApp) -> bool:
        return (self.tenant_id.lower(), self.client_id.lower()) == (
            other.tenant_id.lower(),
            other.client_id.lower(),
        )

    def secret_values(self) -> list[str]:
        values = [self.client_secret.get_secret_value()] if self.client_secret else []
        if self.certificate is not None:
            pem = self.certificate.get_secret_value()
            values.append(pem)
            # The private key's base64, whole and line by line (the certificate is public).
            for kind, body in _PEM.findall(pem):
                if "PRIVATE KEY" in kind:
                    values += [body.strip(), *(ln.strip() for ln in body.splitlines())]
        return values

    def thumbprint(self) -> str:
        """The SHA-1 thumbprint of the certificate (hex), as the app registration shows it."""
        assert self.certificate is not None
        return certificate_thumbprint(self.certificate.get_secret_value())


class GraphSide(BaseModel):
    """One side of a run on Microsoft Graph: the app, the mailbox and the calendar."""

    model_config = ConfigDict(frozen=True)

    role: Role
    app: GraphApp
    mailbox: str
    calendar: str | None  # name or id; None: the mailbox's default calendar
    endpoint: str  # e.g. https://graph.microsoft.com (no path)
    authority_host: str  # e.g. https://login.microsoftonline.com
    credentials_from: Literal["own", "source"] = "own"

    @property
    def url(self) -> str:
        """The calendar as a URL, for the result and logs (what is configured, not resolved)."""
        users = f"{self.endpoint}/v1.0/users/{quote(self.mailbox, safe='@')}"
        if self.calendar is None:
            return f"{users}/calendar"
        return f"{users}/calendars/{quote(self.calendar, safe='')}"

    def setting(self, key: str) -> str:
        """How errors name one of this side's settings."""
        return where(f"{self.role}_graph_{key}", self.role)


def where(key: str, role: Role | None = None) -> str:
    flag, env = GRAPH_SETTINGS[key]
    short = key.removeprefix(f"{role}_graph_") if role else key
    field = f" (spec.{role}.graph.{_FIELDS[short]})" if role and short in _FIELDS else ""
    return f"{flag} / {env}{field}"


def _bad(key: str, role: Role | None, value: str, problem: str, fix: str) -> ConfigError:
    shown = value if len(value) <= 80 else value[:80] + "…"
    return ConfigError(f"{where(key, role)}: {shown!r} {problem}; {fix}")


def certificate_thumbprint(pem: str) -> str:
    """The SHA-1 of the first CERTIFICATE block's DER (what Entra ID shows as the thumbprint)."""
    for kind, body in _PEM.findall(pem):
        if kind == "CERTIFICATE":
            return hashlib.sha1(base64.b64decode("".join(body.split()))).hexdigest().upper()
    raise ValueError("no CERTIFICATE block")


def _check_certificate(env_name: str, pem: str) -> None:
    kinds = {kind for kind, _ in _PEM.findall(pem)}
    key = contract.CREDENTIAL_FILES[env_name]
    if "CERTIFICATE" not in kinds or not any("PRIVATE KEY" in k for k in kinds):
        raise ConfigError(
            f"{env_name} (the credentials Secret's key {key}) is not a PEM holding a CERTIFICATE "
            "and its PRIVATE KEY (the value is not shown); store both blocks in one PEM, e.g. "
            f"cat cert.pem key.pem > both.pem; kubectl create secret generic NAME "
            f"--from-file={key}=both.pem"
        )
    try:
        certificate_thumbprint(pem)
    except ValueError:
        raise ConfigError(
            f"{env_name} (the credentials Secret's key {key}): its CERTIFICATE block is not "
            "base64 (the value is not shown); store the certificate as PEM"
        ) from None


def _check_secret(env_name: str, value: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        key = contract.CREDENTIAL_FILES[env_name]
        raise ConfigError(
            f"{env_name} (the credentials Secret's key {key}) contains a line break or another "
            "control character (the value is not shown); store the client secret alone"
        )


def _app(
    options: Mapping[str, str | None],
    role: Role,
    read: Callable[[str], str | None],
    default: GraphApp | None,
) -> GraphApp:
    tenant = (options.get(f"{role}_graph_tenant_id") or "").strip()
    client = (options.get(f"{role}_graph_client_id") or "").strip()
    if default is not None:  # each unset one is the source app's
        tenant, client = tenant or default.tenant_id, client or default.client_id
    if not tenant:
        raise ConfigError(
            f"{where(f'{role}_graph_tenant_id', role)} is required; set it to the directory "
            "(tenant) id of the app registration, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47"
        )
    if not contract.is_graph_tenant(tenant):
        raise _bad(
            f"{role}_graph_tenant_id",
            role,
            tenant,
            "is not a tenant id",
            "use the directory (tenant) id, a GUID, or a verified domain such as "
            "contoso.onmicrosoft.com",
        )
    if not client:
        raise ConfigError(
            f"{where(f'{role}_graph_client_id', role)} is required; set it to the application "
            "(client) id of the app registration (a GUID)"
        )
    if not contract.is_graph_id(client):
        raise _bad(
            f"{role}_graph_client_id",
            role,
            client,
            "is not an application (client) id",
            "use the app registration's application (client) id, a GUID",
        )
    prefix = "ARCHIVE_SOURCE_GRAPH" if role == "source" else "ARCHIVE_DESTINATION_GRAPH"
    secret = read(f"{prefix}_CLIENT_SECRET")
    certificate = read(f"{prefix}_CLIENT_CERTIFICATE")
    if secret is not None:
        _check_secret(f"{prefix}_CLIENT_SECRET", secret)
    if certificate is not None:
        _check_certificate(f"{prefix}_CLIENT_CERTIFICATE", certificate)
    if secret is not None and certificate is not None:
        keys = [contract.CREDENTIAL_FILES[f"{prefix}_CLIENT_{k}"] for k in _KINDS]
        raise ConfigError(
            f"{prefix}_CLIENT_SECRET and {prefix}_CLIENT_CERTIFICATE are both set (the credentials "
            f"Secret's keys {keys[0]} and {keys[1]}); keep one"
        )
    return GraphApp(
        tenant_id=tenant,
        client_id=client,
        client_secret=SecretStr(secret) if secret is not None else None,
        certificate=SecretStr(certificate) if certificate is not None else None,
    )


def _host_url(options: Mapping[str, str | None], key: str, default: str, allow_http: bool) -> str:
    raw = (options.get(key) or "").strip() or default
    parts = urlsplit(raw)
    fix = f"use scheme://host[:port] only, e.g. {default}"
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise _bad(key, None, raw, "has a port that is not a number", fix) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _bad(key, None, raw, "is not an https:// URL", fix)
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise _bad(key, None, raw, "has a path, query or user info", fix)
    if parts.scheme == "http" and not allow_http:
        from .config import is_loopback_host  # config imports this module: a late import

        what = (
            "the access token would cross the network unencrypted"
            if key == "graph_endpoint"
            else "msal sends the client credentials only to an https:// authority"
        )
        if key != "graph_endpoint" or not is_loopback_host(parts.hostname):
            raise _bad(key, None, raw, f"is plain http://, and {what}", f"use https://, {fix}")
    return raw.rstrip("/")


def _mailbox(options: Mapping[str, str | None], role: Role) -> str:
    key = f"{role}_graph_mailbox"
    raw = (options.get(key) or "").strip()
    if not raw:
        raise ConfigError(
            f"{where(key, role)} is required; set it to the mailbox's address (user principal "
            "name, e.g. alice@contoso.com) or its user id"
        )
    if not contract.is_graph_mailbox(raw):
        raise _bad(
            key,
            role,
            raw,
            "is not a mailbox",
            "use the user's principal name (alice@contoso.com) or user id (a GUID)",
        )
    return raw


def _calendar(options: Mapping[str, str | None], role: Role) -> str | None:
    key = f"{role}_graph_calendar"
    raw = (options.get(key) or "").strip()
    if not raw:
        if role == "destination":
            raise ConfigError(
                f"{where(key, role)} is required; set it to the name or id of the archive "
                "calendar in the mailbox (create it first, e.g. 'Archive')"
            )
        return None
    if len(raw) > 512 or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise _bad(key, role, raw, "is not a calendar name or id", "use the name shown in Outlook")
    return raw


def graph_side(
    options: Mapping[str, str | None],
    role: Role,
    read: Callable[[str], str | None],
    allow_insecure: bool,
    source: GraphSide | None = None,
) -> GraphSide:
    """One Graph side from the options; ``read`` reads a credential by its environment name
    (environment, else the credentials Secret's file). ``source``: the run's Graph source, whose
    app and credentials an archive of the same app uses (see the module's docstring)."""
    app = _app(options, role, read, source.app if source is not None else None)
    credentials_from: Literal["own", "source"] = "own"
    if role == "destination" and app.kind == "none":
        if source is not None and source.app.same_app(app) and source.app.kind != "none":
            app, credentials_from = source.app, "source"
        else:
            raise ConfigError(
                f"the archive's app (tenant {app.tenant_id}, client {app.client_id}) has no "
                "credentials: the source's are used only for the source's own app (same tenant "
                "and client id); put the archive app's client secret under the key "
                "destination-client-secret, or its certificate under destination-client-"
                "certificate, of the credentials Secret (ARCHIVE_DESTINATION_GRAPH_CLIENT_SECRET"
                " / _CLIENT_CERTIFICATE)"
            )
    if role == "source" and app.kind == "none":
        raise ConfigError(
            f"the source's app (tenant {app.tenant_id}, client {app.client_id}) has no "
            "credentials; put its client secret under the key client-secret, or its certificate "
            "(PEM with the private key) under client-certificate, of the credentials Secret "
            "(ARCHIVE_SOURCE_GRAPH_CLIENT_SECRET / _CLIENT_CERTIFICATE)"
        )
    return GraphSide(
        role=role,
        app=app,
        mailbox=_mailbox(options, role),
        calendar=_calendar(options, role),
        endpoint=_host_url(options, "graph_endpoint", DEFAULT_ENDPOINT, allow_insecure),
        authority_host=_host_url(options, "graph_authority_host", DEFAULT_AUTHORITY_HOST, False),
        credentials_from=credentials_from,
    )
