"""One shared HTTP layer: keep-alive clients, auth, request counting, error mapping.

Error messages carry the redacted URL (no user info, no query; a secret URL as scheme://host/…
only) and never a credential. The HTTP client's own exception texts are not trusted: they may
quote the URL (``InvalidURL``) or a header with a credential (h11's ``Illegal header value``),
so only their kind is shown, or their text with the URL's every form redacted."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __name__ as _package
from ..config import Credentials, is_loopback_host
from ..errors import AuthError, ConfigError, NotFoundError, ServerError, UnreachableError
from ..redact import Scrubber, redact_url, secret_url_parts

USER_AGENT = f"{_package.replace('_', '-')}/0.1"
# What a 401/403 asks the user to check, unless the backend knows better (CredentialsHint).
DEFAULT_CREDENTIALS_HINT = "check the credentials Secret (username/password or token)"


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


def make_client(
    credentials: Credentials, timeout: float, counter: RequestCounter, url: str | None = None
) -> httpx.Client:
    """A client for one server. ``url``: the server's URL; a loopback one is always connected
    to directly, never through an HTTP(S)_PROXY of the environment, so the loopback exemption
    from the cleartext check (config._refuse_cleartext) holds: those bytes stay on the machine.
    """
    auth: httpx.Auth | None = None
    headers = {"User-Agent": USER_AGENT}
    if credentials.token is not None:
        headers["Authorization"] = f"Bearer {credentials.token.get_secret_value()}"
    elif credentials.username is not None and credentials.password is not None:
        auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())

    def count(request: httpx.Request) -> None:
        counter.add(request.method)

    mounts: dict[str, httpx.BaseTransport | None] = {}
    host = urlsplit(url).hostname if url else None
    if host is not None and is_loopback_host(host):
        mounts[f"all://[{host}]" if ":" in host else f"all://{host}"] = None  # no proxy
    return httpx.Client(
        auth=auth,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        event_hooks={"request": [count]},
        mounts=mounts,
    )


def _reason(exc: httpx.RequestError, url: str) -> str:
    """An exception of the HTTP client as it may be shown: its kind, and its text unless that
    can quote a header (a credential), with every form of the URL redacted out of it."""
    if isinstance(exc, httpx.LocalProtocolError):
        return type(exc).__name__  # "Illegal header value b'Bearer …'"
    urls = [url]
    with contextlib.suppress(AttributeError, RuntimeError):
        urls.append(str(exc.request.url))  # where a redirect led
    scrub = Scrubber(part for u in urls for part in secret_url_parts(u))
    return scrub.text(f"{type(exc).__name__}: {exc}")


def send(
    client: httpx.Client, method: str, url: str, what: str, *, secret: bool = False, **kwargs: Any
) -> httpx.Response:
    """Send one request; a transport failure becomes UnreachableError. ``secret``: the URL is
    itself a secret, shown as scheme://host/… only."""
    shown = redact_url(url, secret=secret)
    try:
        return client.request(method, url, **kwargs)
    except httpx.TooManyRedirects:
        raise ConfigError(
            f"{what} {shown} redirects too many times; set the URL to the final one"
        ) from None
    except httpx.DecodingError:
        raise ServerError(f"{what} {shown} sent a body that cannot be decoded") from None
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise ConfigError(f"{what} {shown} cannot be requested ({type(exc).__name__})") from None
    except httpx.RequestError as exc:  # connect, read, write, timeouts, protocol errors
        raise UnreachableError(f"{what} {shown} unreachable: {_reason(exc, url)}") from None


def check_read(
    response: httpx.Response,
    what: str,
    setting: str,
    credentials_hint: str = DEFAULT_CREDENTIALS_HINT,
    *,
    secret: bool = False,
) -> None:
    """Map a failed whole-run read to the error whose exit code fits it. ``secret``: the URL
    (and so any URL it redirected to) is shown as scheme://host/… only."""
    status = response.status_code
    if status < 300:
        return
    url = redact_url(str(response.request.url), secret=secret)
    if status in (401, 403):
        raise AuthError(
            f"{what} {url} rejected the credentials (HTTP {status}); {credentials_hint}"
        )
    if status == 404:
        raise NotFoundError(f"{what} {url} not found (HTTP 404); check {setting}")
    if status >= 500 or status in (408, 429):
        raise ServerError(f"{what} {url} answered HTTP {status}; retry later")
    if 300 <= status < 400:
        # Shown like every URL: without user info, query or fragment (they may hold secrets).
        target = urljoin(str(response.request.url), response.headers.get("location", ""))
        raise ConfigError(
            f"{what} {url} redirects (HTTP {status}) to {redact_url(target, secret=secret)}; "
            f"set {setting} to the final URL"
        )
    raise ConfigError(f"{what} {url} answered HTTP {status}; check {setting}")
