"""Webhook notifications about finished runs (``spec.notify.webhook``).

Deciding *whether* to notify and *what* to send is pure (:func:`notification_kind`,
:func:`build_payload`). Sending is the :class:`Notifier`'s job: it runs in the operator's event
loop, never blocks reconciliation (``submit`` only queues), POSTs the JSON payload with retries
and reports a delivery that finally failed through ``on_failure`` (the operator turns it into a
Warning Event). The webhook URL comes from a Secret and may carry a token, so it never appears
in a log line, an Event or a failure reason.

Deliveries to one URL are sent one after another, in submission order (a failure notification
is never overtaken by the recovery that follows it); different URLs do not wait for each other.

Webhook targets (issue 18 item 5): the URL is the user's, but the POST leaves from the
operator's pod, so it must not reach what only that pod can reach. Before every attempt the host
is resolved and refused when any of its addresses is loopback, link-local (169.254.0.0/16 and
fe80::/10: the cloud metadata services), private (RFC 1918, 100.64.0.0/10, fc00::/7: the usual
cluster and node networks), unspecified, multicast or otherwise not public, unless the
installation allows it (:class:`WebhookTargets`, ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS). The
connection then goes to the addresses just vetted (:class:`_VettedResolver`), with the URL's host
kept for Host and TLS SNI, so a DNS answer that changes between check and connect (rebinding)
cannot redirect it. A refusal is final and names only the host. Through an HTTP(S)_PROXY the
proxy resolves the host itself: the host is vetted the same way, but there the proxy's own
resolution is the residual rebinding risk (docs/chart.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import ipaddress
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from .api.schedule import ArchiveSchedule
from .settings import parse_webhook_target

log = logging.getLogger(__name__)

FAILURE = "failure"
RECOVERY = "recovery"
SUCCESS = "success"
FAILURE_PHASES = frozenset({"Failed", "PartiallySucceeded"})
SUCCESS_PHASES = frozenset({"Succeeded"})
MAX_MESSAGE = 2000  # characters of the run's message in a payload
USER_AGENT = "archive-operator"
# Where an administrator allows a refused webhook target (named in the refusal).
ALLOW_HOW = (
    "the operator's administrator can allow it with the chart value "
    "notifications.webhookAllowedTargets (ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS)"
)


@dataclass(frozen=True)
class RunOutcome:
    """A finished run, as much as a notification (and the metrics) need of it."""

    namespace: str
    schedule: str
    user: str
    run: str
    trigger: str
    phase: str
    start: date
    end: date
    counts: dict[str, int]
    message: str
    completion_time: datetime


def notification_kind(
    outcome: RunOutcome, previous_consecutive_failures: int, wanted: set[str]
) -> str | None:
    """Which notification a finished run calls for, if any.

    ``previous_consecutive_failures`` is the schedule's count *before* this run. A partial
    success is a failure here. Recovery (the first success after failures) wins over success.
    """
    if outcome.phase in FAILURE_PHASES:
        return FAILURE if FAILURE in wanted else None
    if outcome.phase not in SUCCESS_PHASES:
        return None  # Pending, Running, Skipped: nothing to report
    if previous_consecutive_failures > 0 and RECOVERY in wanted:
        return RECOVERY
    return SUCCESS if SUCCESS in wanted else None


def build_payload(kind: str, outcome: RunOutcome) -> dict[str, Any]:
    """The JSON body of a notification. Holds no secret: no URL, no credentials.

    ``text`` is a one-line summary, so chat webhooks (Slack, Mattermost) show something useful.
    """
    message = outcome.message
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    counts = ", ".join(f"{key} {value}" for key, value in sorted(outcome.counts.items()))
    window = f"{outcome.start.isoformat()}..{outcome.end.isoformat()}"
    text = (
        f"[{kind}] archive run {outcome.namespace}/{outcome.run} for {outcome.user}: "
        f"{outcome.phase} ({window}{'; ' + counts if counts else ''})"
    )
    return {
        "kind": kind,
        "text": text,
        "user": outcome.user,
        "schedule": outcome.schedule,
        "namespace": outcome.namespace,
        "run": outcome.run,
        "trigger": outcome.trigger,
        "phase": outcome.phase,
        "window": {"start": outcome.start.isoformat(), "end": outcome.end.isoformat()},
        "counts": dict(outcome.counts),
        "message": message,
        "time": outcome.completion_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def wanted_events(schedule: ArchiveSchedule) -> set[str]:
    """The events the schedule's webhook wants (empty without a webhook)."""
    notify = schedule.spec.notify
    if notify is None or notify.webhook is None:
        return set()
    return set(notify.webhook.events)


def secret_value(data: Mapping[str, str] | None, key: str) -> str | None:
    """Decode one key of a Secret's ``data`` (base64); None when missing or not valid text.

    The value is returned, never logged; callers name only the Secret and the key.
    """
    encoded = (data or {}).get(key)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode().strip() or None
    except (binascii.Error, UnicodeDecodeError):
        return None


def is_webhook_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


# --- webhook targets -----------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT; some CNIs' pod range
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), judged in its place."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def non_public_kind(address: IPAddress) -> str | None:
    """Why the operator must not POST to ``address`` on a user's behalf, or None when it is a
    public address. An IPv6 address carrying an IPv4 one is judged by both."""
    embedded = _embedded_ipv4(address)
    for candidate in (embedded, address) if embedded is not None else (address,):
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_multicast:
            return "multicast"
        if candidate.is_reserved:
            return "reserved"
        if candidate.is_private or candidate in _SHARED:
            return "private"
        if not candidate.is_global:
            return "reserved"
    return None


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class WebhookTargets:
    """Which webhook hosts the operator may POST to: public addresses, and what the
    installation allows (ARCHIVE_OPERATOR_WEBHOOK_ALLOWED_TARGETS, settings.py)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for entry in allowed:
            target = parse_webhook_target(entry)
            if not isinstance(target, str):
                networks.append(target)
            elif target.startswith("*."):
                suffixes.append(target[1:])  # ".example.com"
            else:
                names.add(target)
        self.networks = tuple(networks)
        self.names = frozenset(names)
        self.suffixes = tuple(suffixes)

    def allows_name(self, host: str) -> bool:
        """The host itself is allowed, whatever it resolves to."""
        name = host.lower().rstrip(".")
        return name in self.names or any(name.endswith(suffix) for suffix in self.suffixes)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused (its kind), or None when it may be used."""
        kind = non_public_kind(address)
        if kind is None:
            return None
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        for candidate in (address, plain) if plain is not None else (address,):
            if any(candidate in network for network in self.networks):
                return None
        return kind


class _Refused(Exception):
    """The webhook's host is not an allowed target; the message names the host only."""


@dataclass(frozen=True)
class _Route:
    """How one attempt may connect: the vetted addresses of the URL's host (pinned), the hosts
    that are resolved as usual (the proxy's, and allowed names), and the proxy if any."""

    pinned: dict[str, list[ResolveResult]] = field(default_factory=dict)
    resolved_freely: frozenset[str] = frozenset()
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None


_ROUTE: contextvars.ContextVar[_Route | None] = contextvars.ContextVar(
    "archive_operator_webhook_route", default=None
)


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


class _VettedResolver(AbstractResolver):
    """The session's only resolver: it answers with the addresses vetted for this attempt
    (``_ROUTE``), resolves the proxy's host and allowed names as usual, and nothing else, so a
    connection can only go where the check said it may. IP literals never reach a resolver:
    they are vetted as written."""

    def __init__(self) -> None:
        self._default = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        route = _ROUTE.get()
        key = _host_key(host)
        if route is not None:
            pinned = route.pinned.get(key)
            if pinned is not None:
                return [{**result, "port": port} for result in pinned]
            if key in route.resolved_freely:
                return await self._default.resolve(host, port, family)
        raise OSError("the webhook host was not vetted for this connection")  # never expected

    async def close(self) -> None:
        await self._default.close()


Lookup = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


async def system_lookup(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) of each of the host's addresses, from the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3]:
            found.append((family, f"{sockaddr[0]}%{sockaddr[3]}"))  # a link-local scope
        elif family in (socket.AF_INET, socket.AF_INET6):
            found.append((family, str(sockaddr[0])))
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class _Delivery:
    url: str
    kind: str
    outcome: RunOutcome

    def describe(self) -> str:
        """For logs: what and for which run; never the URL."""
        return f"{self.kind} notification for run {self.outcome.namespace}/{self.outcome.run}"


@dataclass(frozen=True)
class _Attempt:
    delivered: bool
    retry: bool
    reason: str
    retry_after: float | None = None


class Notifier:
    """Sends notifications in the background; started once with the operator."""

    def __init__(
        self,
        *,
        on_failure: Callable[[RunOutcome, str], None],
        max_attempts: int = 5,
        base_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_delay: float = 300.0,
        timeout: float = 10.0,
        max_pending: int = 1000,
        drain_timeout: float = 10.0,
        trust_env: bool = True,
        random_fraction: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        allowed_targets: Iterable[str] = (),
        lookup: Lookup = system_lookup,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts={max_attempts}: must be at least 1")
        self._on_failure = on_failure
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep
        self._max_delay = max_delay
        self._timeout = timeout
        self._max_pending = max_pending
        self._drain_timeout = drain_timeout
        self._trust_env = trust_env
        self._random = random_fraction
        self._clock = clock
        self._targets = WebhookTargets(allowed_targets)
        self._lookup = lookup
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._queues: dict[str, deque[_Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._closing = False

    async def start(self) -> None:
        if self._session is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._closing = False
        # No DNS cache: each attempt vets what the host resolves to now and connects there.
        # The environment's proxy is applied per request (_route), so trust_env stays off here.
        connector = aiohttp.TCPConnector(resolver=_VettedResolver(), use_dns_cache=False)
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT}, connector=connector, trust_env=False
        )

    async def stop(self) -> None:
        """Let queued deliveries finish for up to ``drain_timeout`` seconds, then cancel them.

        A cancelled delivery is reported through ``on_failure``.
        """
        self._closing = True
        workers = list(self._workers.values())
        if workers:
            _, unfinished = await asyncio.wait(workers, timeout=self._drain_timeout)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._loop = None

    def submit(self, url: str, kind: str, outcome: RunOutcome) -> None:
        """Queue a notification; returns at once. Safe to call from any thread."""
        delivery = _Delivery(url, kind, outcome)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._fail(delivery, "the notifier is not running")
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(delivery)
        else:
            loop.call_soon_threadsafe(self._enqueue, delivery)

    @property
    def pending(self) -> int:
        """Deliveries queued or in flight."""
        return self._pending

    # --- in the event loop ----------------------------------------------------------------------

    def _enqueue(self, delivery: _Delivery) -> None:
        if self._closing or self._loop is None:
            self._fail(delivery, "the operator is stopping")
            return
        if self._pending >= self._max_pending:
            self._fail(delivery, f"too many notifications pending ({self._pending}); dropped")
            return
        self._queues.setdefault(delivery.url, deque()).append(delivery)
        self._pending += 1
        if delivery.url not in self._workers:
            self._workers[delivery.url] = self._loop.create_task(self._drain(delivery.url))

    async def _drain(self, url: str) -> None:
        """Deliver everything queued for one URL, in order."""
        queue = self._queues[url]
        try:
            while queue:
                delivery = queue[0]
                try:
                    await self._deliver(delivery)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must not kill the worker; no traceback (URL)
                    log.error("%s: internal error (%s)", delivery.describe(), type(exc).__name__)
                    self._fail(delivery, f"internal error ({type(exc).__name__})")
                queue.popleft()
                self._pending -= 1
        except asyncio.CancelledError:
            for delivery in queue:
                self._fail(delivery, "the operator stopped before it was delivered")
            self._pending -= len(queue)
            queue.clear()
            raise
        finally:
            if not queue:
                self._queues.pop(url, None)
            self._workers.pop(url, None)

    async def _deliver(self, delivery: _Delivery) -> None:
        if not is_webhook_url(delivery.url):
            self._fail(delivery, "the webhook URL in the Secret is not an absolute http(s) URL")
            return
        payload = build_payload(delivery.kind, delivery.outcome)
        for attempt in range(1, self._max_attempts + 1):
            result = await self._post(delivery.url, payload)
            if result.delivered:
                log.info("%s delivered (attempt %d)", delivery.describe(), attempt)
                return
            if not result.retry:
                self._fail(delivery, result.reason)
                return
            if attempt == self._max_attempts:
                break
            delay = result.retry_after if result.retry_after is not None else self.backoff(attempt)
            log.info(
                "%s: %s (attempt %d of %d); retrying in %.1fs",
                delivery.describe(),
                result.reason,
                attempt,
                self._max_attempts,
                delay,
            )
            await self._sleep(delay)
        self._fail(delivery, f"{result.reason} after {self._max_attempts} attempts")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of base * 2^(attempt-1)."""
        ceiling = min(self._max_delay, self._base_delay * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._random() / 2)

    async def _route(self, url: str) -> _Route:
        """Vet the URL's host for one attempt: _Refused when it is not an allowed target,
        OSError when it does not resolve. Only the host is ever named."""
        target = URL(url)
        host = urlsplit(url).hostname or ""  # as written (yarl rewrites e.g. ::ffff:127.0.0.1)
        key = _host_key(target.raw_host or host)
        proxy: URL | None = None
        proxy_auth: aiohttp.BasicAuth | None = None
        if self._trust_env:  # HTTP(S)_PROXY / NO_PROXY, as aiohttp itself would apply them
            with contextlib.suppress(LookupError):
                proxy, proxy_auth = get_env_proxy_for_url(target)
        freely = frozenset({_host_key(proxy.raw_host or "")} if proxy is not None else ())
        literal = _address(host)
        if literal is not None:
            kind = self._targets.refusal(literal)
            if kind is not None:
                raise _Refused(f"webhook host {host} refused: it is a {kind} address; {ALLOW_HOW}")
            return _Route(resolved_freely=freely, proxy=proxy, proxy_auth=proxy_auth)
        if self._targets.allows_name(host):
            return _Route(resolved_freely=freely | {key}, proxy=proxy, proxy_auth=proxy_auth)
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = await self._lookup(target.raw_host or host, port)
        if not addresses:
            raise OSError("no address")
        pinned: list[ResolveResult] = []
        for family, text in addresses:
            address = _address(text)
            kind = "unreadable" if address is None else self._targets.refusal(address)
            if kind is not None:
                raise _Refused(
                    f"webhook host {host} refused: it resolves to a {kind} address; {ALLOW_HOW}"
                )
            numeric = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
            pinned.append(
                {"hostname": key, "host": text, "port": port, "family": family, "proto": 0,
                 "flags": numeric}
            )  # fmt: skip
        if proxy is not None:  # the proxy connects by name; vetted, not pinned (docstring)
            return _Route(resolved_freely=freely, proxy=proxy, proxy_auth=proxy_auth)
        return _Route(pinned={key: pinned}, resolved_freely=freely)

    async def _post(self, url: str, payload: dict[str, Any]) -> _Attempt:
        session = self._session
        if session is None:
            return _Attempt(False, False, "the notifier is not running")
        try:
            route = await self._route(url)
        except _Refused as refused:
            return _Attempt(False, False, str(refused))
        except (OSError, ValueError) as exc:
            # Resolution failed (perhaps for now): retried like an unreachable receiver.
            return _Attempt(False, True, f"webhook host does not resolve ({type(exc).__name__})")
        token = _ROUTE.set(route)
        try:
            async with session.post(
                url,
                json=payload,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                proxy=route.proxy,
                proxy_auth=route.proxy_auth,
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            return _Attempt(False, True, f"webhook did not answer within {self._timeout:g}s")
        except (aiohttp.ClientError, OSError) as exc:
            # The exception's text names the host and port: report only its type.
            return _Attempt(False, True, f"webhook unreachable ({type(exc).__name__})")
        finally:
            _ROUTE.reset(token)
        if 200 <= status < 300:
            return _Attempt(True, False, f"webhook answered {status}")
        if status == 429 or status >= 500:  # Retry-After is honoured on both (RFC 9110)
            wait = self._retry_after(retry_after)
            return _Attempt(False, True, f"webhook answered {status}", wait)
        if 300 <= status < 400:
            return _Attempt(False, False, f"webhook answered {status} (redirects are not followed)")
        return _Attempt(False, False, f"webhook answered {status} (not retried)")

    def _retry_after(self, header: str | None) -> float | None:
        """Seconds to wait from a Retry-After header (seconds or HTTP date), capped."""
        if header is None:
            return None
        header = header.strip()
        seconds: float | None = None
        if header.isdigit():
            seconds = float(header)
        else:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                when = parsedate_to_datetime(header)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = max(when.timestamp() - self._clock(), 0.0)
        return None if seconds is None else min(seconds, self._max_delay)

    def _fail(self, delivery: _Delivery, reason: str) -> None:
        log.warning("%s not delivered: %s", delivery.describe(), reason)
        try:
            self._on_failure(delivery.outcome, reason)
        except Exception as exc:
            log.error("on_failure raised %s; ignored", type(exc).__name__)
