"""Microsoft Graph source and destination: token, requests, paging, retries, error mapping.

Tokens come from msal (OAuth 2.0 client credentials), whose HTTP goes through the run's httpx
client (:class:`MsalHttp`): the run's TLS context and proxy rules, its request counter and its
retry policy apply to the identity platform as to Graph. A 401 from Graph gets one new token
and one resend; 403/404 are configuration errors naming the mailbox, the calendar and the
permission to grant; 429/503 (Retry-After) are waited out within the deadline by
backends/http.send. Each access token is added to the run's scrubber as soon as it exists.

The conversions are pure (graph_ical.py); this module only moves JSON.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from ..config import origin
from ..errors import AuthError, ConfigError, NotFoundError, RetryLaterError, ServerError
from ..graph_config import GraphSide
from ..graph_ical import PROP_HASH, PROP_ICAL, PROP_NAME
from ..logs import JsonFormatter, get_logger
from ..redact import redact_url
from .http import RETRYABLE_STATUSES, RetryPolicy, asked_to_retry, send

PAGE_SIZE = 100  # Prefer: odata.maxpagesize (Graph's own default for calendarView is 10)
# Ask for every time in UTC and text bodies: the converter reads UTC, the archive keeps text.
READ_PREFER = ['outlook.timezone="UTC"', 'outlook.body-content-type="text"']
_EXPAND = (
    "singleValueExtendedProperties($filter="
    + " or ".join(f"id eq '{p}'" for p in (PROP_NAME, PROP_HASH, PROP_ICAL))
    + ")"
)
_AADSTS = re.compile(r"AADSTS\d+:[^\r\n]{0,200}")
IDENTITY = "Microsoft identity platform"


def hide(secret: str) -> None:
    """Add a secret learnt during the run (an access token) to the run's scrubber: the logs and
    the result then replace it too (cli.py shares one Scrubber between them)."""
    for handler in get_logger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, JsonFormatter) and secret not in formatter.scrubber.secrets:
            formatter.scrubber.secrets.append(secret)
            formatter.scrubber.secrets.sort(key=len, reverse=True)


class MsalHttp:
    """msal's ``http_client``: ``get``/``post`` answering objects with status_code, text,
    headers and raise_for_status (httpx.Response has them), sent with the run's client."""

    def __init__(self, client: httpx.Client, retry: RetryPolicy | None) -> None:
        self.client, self.retry = client, retry

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return send(
            self.client, "GET", url, IDENTITY, retry=self.retry, params=params, headers=headers
        )

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> httpx.Response:
        if isinstance(data, dict):  # msal's client assertion may be bytes: requests sends
            # those as they are, httpx would send "b'...'" (a malformed JWT to the platform)
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return send(
            self.client, "POST", url, IDENTITY, retry=self.retry, params=params, data=data,
            headers=headers,
        )  # fmt: skip

    def close(self) -> None:
        self.client.close()


def graph_error(response: httpx.Response) -> str:
    """Graph's error code and message (no token is ever in them), shortened."""
    try:
        error = response.json().get("error") or {}
        text = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        text = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return text[:200]


class GraphSession:
    """One app's token and requests for one side (a source and an archive of the same app and
    endpoints share one session: one token)."""

    def __init__(
        self,
        side: GraphSide,
        graph: httpx.Client,
        identity: httpx.Client,
        retry: RetryPolicy | None,
    ) -> None:
        self.side, self.graph, self.identity, self.retry = side, graph, identity, retry
        self.root = f"{side.endpoint}/v1.0"
        # msal's app (with its token cache) and a lock: the source and archive reads run at
        # once, and without it each would fetch a token of its own.
        self._shared: dict[str, Any] = {"app": None, "lock": threading.Lock()}

    def sharing(self, side: GraphSide) -> GraphSession:
        """A session for another side of the same app: the same clients, app and token."""
        twin = GraphSession(side, self.graph, self.identity, self.retry)
        twin._shared = self._shared
        return twin

    # --- token -----------------------------------------------------------------------------
    def _application(self) -> Any:
        import msal  # imported when a run uses Graph: the other runs need not load it

        if self._shared["app"] is not None:
            return self._shared["app"]
        app = self.side.app
        credential: Any = (
            app.client_secret.get_secret_value()
            if app.client_secret is not None
            else {"private_key": app.certificate.get_secret_value(), "thumbprint": app.thumbprint()}
            if app.certificate is not None
            else None
        )
        try:
            self._shared["app"] = msal.ConfidentialClientApplication(
                app.client_id,
                client_credential=credential,
                authority=f"{self.side.authority_host}/{app.tenant_id}",
                http_client=MsalHttp(self.identity, self.retry),
                # The authority is configured (ARCHIVE_GRAPH_AUTHORITY_HOST), not discovered.
                instance_discovery=False,
            )
        except ValueError as exc:  # msal: the tenant's OpenID configuration was refused (4xx)
            found = _AADSTS.search(str(exc))
            raise AuthError(
                f"{IDENTITY} {self.side.authority_host} does not know the tenant "
                f"{app.tenant_id!r} ({found.group(0) if found else 'discovery failed'}); check "
                f"{self.side.setting('tenant_id')}"
            ) from None
        except httpx.HTTPStatusError as exc:
            raise ServerError(
                f"{IDENTITY} {self.side.authority_host} answered HTTP "
                f"{exc.response.status_code} to the tenant's discovery; retry later"
            ) from None
        return self._shared["app"]

    def token(self) -> str:
        app = self.side.app
        with self._shared["lock"]:
            result = self._application().acquire_token_for_client(
                scopes=[f"{self.side.endpoint}/.default"]
            )
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = result.get("error", "no token") if isinstance(result, dict) else "no token"
            found = _AADSTS.search(str(result.get("error_description", "")))
            raise AuthError(
                f"{IDENTITY} refused the {self.side.role} app (tenant {app.tenant_id}, client "
                f"{app.client_id}): {error}{f' ({found.group(0)})' if found else ''}; check "
                f"{self.side.setting('client_id')} and its {app.kind} in the credentials Secret"
            )
        hide(token)
        return str(token)

    def _refresh(self, rejected: str) -> str:
        """A new token, unless another thread got one since ``rejected`` was sent."""
        with self._shared["lock"]:
            current = self._application().acquire_token_for_client(
                scopes=[f"{self.side.endpoint}/.default"]
            )
            if current.get("access_token") == rejected:
                self._application().remove_tokens_for_client()  # msal: no force_refresh here
        return self.token()

    # --- requests --------------------------------------------------------------------------
    def request(
        self, method: str, url: str, what: str, *, headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:  # fmt: skip
        """One Graph request with a bearer token; a 401 gets one new token and one resend."""
        if origin(url) != origin(self.root):  # the token goes to the configured Graph only
            raise ServerError(f"{what}: Graph pointed at another host ({redact_url(url)})")
        token = self.token()
        for attempt in range(2):
            if attempt:
                token = self._refresh(token)
            sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
            answer = send(self.graph, method, url, what, retry=self.retry, headers=sent, **kwargs)
            if answer.status_code != 401:
                break
        return answer

    def where(self, calendar: str | None = None) -> str:
        shown = calendar or self.side.calendar
        name = f"calendar {shown!r}" if shown else "the default calendar"
        return f"{self.side.role} mailbox {self.side.mailbox}, {name}"

    def check(self, response: httpx.Response, what: str, write: bool = False) -> None:
        """Map a failed Graph answer to the error whose exit code fits it."""
        status = response.status_code
        if status < 300:
            return
        said = graph_error(response)
        app = self.side.app
        if status == 401:
            raise AuthError(
                f"Microsoft Graph rejected the app's token for the {self.where()} (HTTP 401 "
                f"{said}) even after a new one; check the app registration (tenant "
                f"{app.tenant_id}, client {app.client_id})"
            )
        if status == 403:
            permission = "Calendars.ReadWrite" if write or self.side.role == "destination" else (
                "Calendars.Read"
            )  # fmt: skip
            raise AuthError(
                f"Microsoft Graph denied {what} in the {self.where()} (HTTP 403 {said}); grant the "
                f"app (client {app.client_id}) the application permission {permission} with admin "
                f"consent in Microsoft Entra ID, and if an application access policy limits it, "
                f"include mailbox {self.side.mailbox}"
            )
        if status == 404:
            raise NotFoundError(
                f"{self.where()}: not found (HTTP 404 {said}); check "
                f"{self.side.setting('mailbox')} and {self.side.setting('calendar')}"
            )
        asked = asked_to_retry(response)
        if status in RETRYABLE_STATUSES and write:
            raise RetryLaterError(
                f"Microsoft Graph answered HTTP {status}{asked} to {what} in the {self.where()}, "
                "and no wait for it could end before the run's deadline (--deadline / "
                "ARCHIVE_DEADLINE_SECONDS); a re-run (the Job's retry) writes what is left"
            )
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise ServerError(
                f"Microsoft Graph answered HTTP {status}{asked} to {what} in the {self.where()}; "
                "retry later"
            )
        raise ConfigError(
            f"Microsoft Graph refused {what} in the {self.where()} (HTTP {status} {said})"
        )

    def pages(self, url: str, what: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a collection, following @odata.nextLink (which carries the query)."""
        headers = {"Prefer": ", ".join([*READ_PREFER, f"odata.maxpagesize={PAGE_SIZE}"])}
        response = self.request("GET", url, what, headers=headers, **kwargs)
        while True:
            self.check(response, what)
            data = response.json()
            yield list(data.get("value") or [])
            link = data.get("@odata.nextLink")
            if not link:
                return
            response = self.request("GET", link, what, headers=headers)

    @property
    def user(self) -> str:
        return f"{self.root}/users/{quote(self.side.mailbox, safe='@')}"

    def calendar_url(self) -> str:
        """The configured calendar's URL: the default one, or the one whose id, else name, is
        configured (names compared exactly, then ignoring case)."""
        wanted = self.side.calendar
        if wanted is None:
            response = self.request("GET", f"{self.user}/calendar", "reading the calendar")
            self.check(response, "reading the calendar")
            return f"{self.user}/calendars/{quote(response.json()['id'], safe='')}"
        found = [
            c
            for page in self.pages(f"{self.user}/calendars", "listing the calendars")
            for c in page
        ]
        for match in (
            lambda c: c.get("id") == wanted,
            lambda c: c.get("name") == wanted,
            lambda c: str(c.get("name", "")).casefold() == wanted.casefold(),
        ):
            chosen = [c for c in found if match(c)]
            if len(chosen) > 1:
                raise ConfigError(
                    f"{self.where()}: {len(chosen)} calendars are named {wanted!r}; set "
                    f"{self.side.setting('calendar')} to the id of one: "
                    + ", ".join(str(c.get("id")) for c in chosen)
                )
            if chosen:
                return f"{self.user}/calendars/{quote(str(chosen[0]['id']), safe='')}"
        names = ", ".join(repr(c.get("name")) for c in found[:20])
        raise NotFoundError(
            f"{self.where()}: no such calendar in the mailbox (it has {names or 'none'}); set "
            f"{self.side.setting('calendar')} to one of them (name or id)"
        )

    def close(self) -> None:
        self.graph.close()
        self.identity.close()


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
