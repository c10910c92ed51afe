"""One shared HTTP layer: keep-alive clients, auth, request counting, error mapping.

Error messages carry the redacted URL (no user info, no query) and never a credential."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from .. import __name__ as _package
from ..config import Credentials, redact_url
from ..errors import AuthError, ConfigError, NotFoundError, ServerError, UnreachableError

USER_AGENT = f"{_package.replace('_', '-')}/0.1"
_TRANSPORT_ERRORS = (httpx.TransportError,)  # connect, read, write, timeouts, protocol errors


@dataclass
class RequestCounter:
    """Requests sent by every client of a run (the source and archive reads overlap)."""

    requests: int = 0
    writes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str) -> None:
        with self.lock:
            self.requests += 1
            if method in ("PUT", "DELETE", "MOVE", "PROPPATCH"):
                self.writes += 1


def make_client(credentials: Credentials, timeout: float, counter: RequestCounter) -> httpx.Client:
    auth: httpx.Auth | None = None
    headers = {"User-Agent": USER_AGENT}
    if credentials.token is not None:
        headers["Authorization"] = f"Bearer {credentials.token.get_secret_value()}"
    elif credentials.username is not None and credentials.password is not None:
        auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())

    def count(request: httpx.Request) -> None:
        counter.add(request.method)

    return httpx.Client(
        auth=auth,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        event_hooks={"request": [count]},
    )


def send(client: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """Send one request; a transport failure becomes UnreachableError."""
    try:
        return client.request(method, url, **kwargs)
    except _TRANSPORT_ERRORS as exc:
        raise UnreachableError(
            f"{what} {redact_url(url)} unreachable: {type(exc).__name__}: {exc}"
        ) from None


def check_read(response: httpx.Response, what: str, setting: str) -> None:
    """Map a failed whole-run read to the error whose exit code fits it."""
    status = response.status_code
    if status < 300:
        return
    url = redact_url(str(response.request.url))
    if status in (401, 403):
        raise AuthError(
            f"{what} {url} rejected the credentials (HTTP {status}); "
            "check the credentials Secret (username/password or token)"
        )
    if status == 404:
        raise NotFoundError(f"{what} {url} not found (HTTP 404); check {setting}")
    if status >= 500 or status in (408, 429):
        raise ServerError(f"{what} {url} answered HTTP {status}; retry later")
    if 300 <= status < 400:
        raise ConfigError(
            f"{what} {url} redirects (HTTP {status}) to {response.headers.get('location', '?')}; "
            f"set {setting} to the final URL"
        )
    raise ConfigError(f"{what} {url} answered HTTP {status}; check {setting}")
