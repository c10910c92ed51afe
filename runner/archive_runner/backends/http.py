"""One shared HTTP layer: keep-alive clients, auth, request counting, retries, error mapping.

Retries are decided here and nowhere else (:class:`RetryPolicy`, used by :func:`send`): an
answer that says "not now" (RETRYABLE_STATUSES) is sent again after the wait the server asked
for (Retry-After) or a backoff, while that wait ends before the run's deadline; otherwise the
answer is returned at once and the caller turns it into an error that makes the run retryable.

Error messages carry the redacted URL (no user info, no query; a secret URL as scheme://host/…
only) and never a credential. The HTTP client's own exception texts are not trusted: they may
quote the URL (``InvalidURL``) or a header with a credential (h11's ``Illegal header value``),
so only their kind is shown, or their text with the URL's every form redacted."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __name__ as _package
from ..config import Credentials, is_loopback_host
from ..errors import AuthError, ConfigError, NotFoundError, ServerError, UnreachableError
from ..logs import get_logger
from ..redact import Scrubber, redact_url, secret_url_parts

USER_AGENT = f"{_package.replace('_', '-')}/0.1"
# What a 401/403 asks the user to check, unless the backend knows better (CredentialsHint).
DEFAULT_CREDENTIALS_HINT = "check the credentials Secret (username/password or token)"

# Answers that mean "not now" rather than "not this": the same request may well succeed later
# (RFC 9110 15.5.9, 15.6.3-15.6.5; RFC 6585 4; RFC 4918 11.5). 500 is not one of them: to a PUT
# it is usually the server failing on that very object, which a retry would only repeat, so it
# stays that object's failure (a read answered 500 still fails the run with exit 5).
RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504, 507})
MAX_BACKOFF_SECONDS = 30.0


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """The wait a Retry-After header asks for (RFC 9110 10.2.3: delta-seconds or an
    HTTP-date, a date in the past meaning now); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_seconds(attempt: int) -> float:
    """The wait before retry ``attempt + 1`` when the server named none: 1, 2, 4 ... 30 s."""
    return min(2.0 ** min(attempt, 16), MAX_BACKOFF_SECONDS)


def retry_delay(status: int, retry_after: str | None, attempt: int, now: datetime) -> float | None:
    """How long to wait before sending a request again, or None: not an answer to retry."""
    if status not in RETRYABLE_STATUSES:
        return None
    asked = retry_after_seconds(retry_after, now)
    return asked if asked is not None else backoff_seconds(attempt)


def asked_to_retry(response: httpx.Response) -> str:
    """`` (Retry-After: …)`` as the server sent it, for messages; empty without one."""
    value = response.headers.get("retry-after")
    return f" (Retry-After: {value.strip()[:40]})" if value is not None else ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a request again: after the delay :func:`retry_delay` gives, and only if
    that wait ends before ``deadline`` (on ``clock``), so a run never outlives its deadline
    waiting. Clock, sleep and wall clock are injectable so tests need not wait."""

    deadline: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utc_now  # for a Retry-After given as an HTTP-date

    def wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt + 1`` of ``response``'s request, or None:
        return ``response`` as the final answer."""
        delay = retry_delay(
            response.status_code, response.headers.get("retry-after"), attempt, self.now()
        )
        if delay is None or self.clock() + delay >= self.deadline:
            return None
        return delay


@dataclass
class RequestCounter:
    """Requests sent by every client of a run (the source and archive reads overlap)."""

    requests: int = 0
    writes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str) -> None:
        with self.lock:
            self.requests += 1
            if method in ("PUT", "DELETE", "MOVE", "PROPPATCH", "POST", "PATCH"):
                self.writes += 1


def make_client(
    credentials: Credentials,
    timeout: float,
    counter: RequestCounter,
    url: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> httpx.Client:
    """A client for one server. ``url``: the server's URL; a loopback one is always connected
    to directly, never through an HTTP(S)_PROXY of the environment, so the loopback exemption
    from the cleartext check (config._refuse_cleartext) holds: those bytes stay on the machine.
    ``tls``: a context from ``tls_context()`` shared by the run's clients, else httpx builds one.
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
        verify=tls if tls is not None else True,
    )


def tls_context() -> ssl.SSLContext:
    """The TLS context httpx would build for a client: certifi's CA bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR when set. Building one loads the CA bundle, about 40-70 ms: a run builds it
    once for its clients, as a no-change re-run is two short requests."""
    return httpx.create_ssl_context()


def trusting_nothing() -> ssl.SSLContext:
    """The context of a client for a plain http:// server. Such a client follows no redirect
    and only ever asks that origin, so it makes no TLS connection; should one be made anyway,
    no certificate verifies (no CA loaded; hostname checked, certificate required): nothing is
    trusted by mistake, and a plain-http run does not load the CA bundle."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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
    client: httpx.Client,
    method: str,
    url: str,
    what: str,
    *,
    secret: bool = False,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, again while ``retry`` says to wait for a "not now" answer; return the
    final answer. A transport failure becomes UnreachableError (not retried here: the Job
    retries exit 5). ``secret``: the URL is itself a secret, shown as scheme://host/… only."""
    shown = redact_url(url, secret=secret)
    attempt = 0
    while True:
        response = _send_once(client, method, url, what, shown, **kwargs)
        delay = None if retry is None else retry.wait(response, attempt)
        if retry is None or delay is None:  # the final answer
            return response
        get_logger().warning(
            "server asked to retry",
            extra={
                "request": f"{method} {shown}",
                "status": response.status_code,
                "retry_after": response.headers.get("retry-after"),
                "wait_seconds": round(delay, 3),
                "attempt": attempt + 1,
            },
        )
        retry.sleep(delay)
        attempt += 1


def _send_once(
    client: httpx.Client, method: str, url: str, what: str, shown: str, **kwargs: Any
) -> httpx.Response:
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
    except httpx.ConnectError as exc:
        if _untrusted_certificate(exc):  # retrying will not make it trusted: a setting to fix
            raise ConfigError(
                f"{what} {shown}: its TLS certificate cannot be verified ({_reason(exc, url)}); "
                "the server must present a certificate chain to a trusted CA for its host name "
                "(the runner trusts certifi's CA bundle, or the one SSL_CERT_FILE names)"
            ) from None
        raise UnreachableError(f"{what} {shown} unreachable: {_reason(exc, url)}") from None
    except httpx.RequestError as exc:  # connect, read, write, timeouts, protocol errors
        raise UnreachableError(f"{what} {shown} unreachable: {_reason(exc, url)}") from None


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether a connect error is the server's certificate failing verification (httpx wraps
    the ssl module's error; its cause or context holds it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
    if status >= 500 or status in RETRYABLE_STATUSES:
        asked = asked_to_retry(response)
        raise ServerError(f"{what} {url} answered HTTP {status}{asked}; retry later")
    if 300 <= status < 400:
        # Shown like every URL: without user info, query or fragment (they may hold secrets).
        target = urljoin(str(response.request.url), response.headers.get("location", ""))
        raise ConfigError(
            f"{what} {url} redirects (HTTP {status}) to {redact_url(target, secret=secret)}; "
            f"set {setting} to the final URL"
        )
    raise ConfigError(f"{what} {url} answered HTTP {status}; check {setting}")
