"""Fault mode: a seeded share of API requests fails the way a busy or flaky API server fails.

    faults = sandbox.faults                  # every SandboxServer has one, off by default
    faults.configure(parse_spec("seed=7,500=0.05,429=0.05,409=0.05,drop=0.3,users=operator"))
    faults.stats()                           # {"enabled", "config", "requests", "injected": {...}}
    faults.disable()

Kinds (the share of matching requests each one gets; shares add up to at most 1):

- ``500``: 500 InternalError, nothing done.
- ``429``: 429 TooManyRequests with ``Retry-After`` (also ``details.retryAfterSeconds``), nothing
  done.
- ``409``: 409 Conflict ("the object has been modified"), nothing done; updates, patches and
  deletes only (a 409 to a create means AlreadyExists, which would be a lie, not a fault).
- ``slow``: answered normally after a delay between half of and all of ``slow-seconds``.
- ``timeout``: the request is carried out, then answered 504 Timeout after ``timeout-seconds``
  (as an API server whose request deadline passed: a write may have happened). Not for watches.
- ``drop``: watches only: the connection is cut without a clean end of stream, within
  ``drop-after`` seconds of the watch starting.
- ``hang``: no answer at all for ``hang-seconds``, then the connection is cut; nothing done. Set
  ``hang-seconds`` above the client's timeout and the client's own timeout path runs (a request
  lost in a stuck API server or load balancer). For a watch: one that never starts.
- ``hang-applied``: as ``hang``, but the request was carried out first (the write happened and
  the client never hears of it). Not for watches.
- ``reset``: the request is carried out and its answer starts (status, headers, half the body),
  then the connection is reset: a body cut mid-way. Not for watches (``drop`` is theirs).
- ``lag``: watches only: each event reaches the client ``lag-seconds`` late (after the events
  before it): a watch that falls behind the store, as an overloaded API server's watch cache.

Rules say which requests are affected (verbs, resources as ``plural`` or ``plural/subresource``,
namespaces, user names; empty = any); the first matching rule decides. Only resource requests
are affected: discovery, health, OpenAPI and the sandbox-only ``/sandbox/*`` endpoints never are.

Decisions are deterministic for a seed: the n-th request with a given verb and path draws the
same number whatever the interleaving of other paths (concurrent clients still change which of
two requests to one path comes first).

Spec (``archive-sandbox serve --faults SPEC``, ``POST /sandbox/faults {"spec": SPEC}``): rules
separated by ``;``, each ``key=value`` pairs separated by ``,``; list values joined with ``+``:

    seed=7,500=0.05,429=0.05,verbs=create+patch;drop=0.5,verbs=watch,users=archive-operator

Global keys (in any rule): ``seed``, ``slow-seconds`` (0.5), ``timeout-seconds`` (1),
``retry-after`` (1), ``drop-after`` (2), ``hang-seconds`` (10), ``lag-seconds`` (2).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from . import errors as err
from .responses import error_response, json_response
from .routing import RequestInfo

KINDS = ("500", "429", "409", "slow", "timeout", "drop", "hang", "hang-applied", "reset", "lag")
CONFLICT_VERBS = frozenset({"update", "patch", "delete", "deletecollection"})
FILTER_KEYS = ("verbs", "resources", "namespaces", "users")
GLOBAL_KEYS = {
    "seed": "seed",
    "slow-seconds": "slow_seconds",
    "timeout-seconds": "timeout_seconds",
    "retry-after": "retry_after_seconds",
    "drop-after": "drop_after_seconds",
    "hang-seconds": "hang_seconds",
    "lag-seconds": "lag_seconds",
}
# A watch's per-event delay, for watchstream.serve_watch (the ``lag`` fault).
WATCH_LAG_KEY = web.RequestKey("sandbox_watch_lag", float)

Dispatch = Callable[[], Awaitable[web.StreamResponse]]


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the part and the fix."""


@dataclass(frozen=True)
class FaultRule:
    rates: Mapping[str, float]  # kind -> share of the matching requests
    verbs: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def matches(self, info: RequestInfo, user: str) -> bool:
        resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
        return (
            (not self.verbs or info.verb in self.verbs)
            and (not self.resources or resource in self.resources)
            and (not self.namespaces or info.namespace in self.namespaces)
            and (not self.users or user in self.users)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rates": dict(self.rates)}
        for key in FILTER_KEYS:
            if values := getattr(self, key):
                out[key] = sorted(values)
        return out


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    rules: tuple[FaultRule, ...] = ()
    slow_seconds: float = 0.5
    timeout_seconds: float = 1.0
    retry_after_seconds: int = 1
    drop_after_seconds: float = 2.0
    hang_seconds: float = 10.0
    lag_seconds: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rules": [r.to_dict() for r in self.rules],
            "slowSeconds": self.slow_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "retryAfterSeconds": self.retry_after_seconds,
            "dropAfterSeconds": self.drop_after_seconds,
            "hangSeconds": self.hang_seconds,
            "lagSeconds": self.lag_seconds,
        }


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0  # the delay of slow, timeout and drop


# --- parsing (pure) ---------------------------------------------------------------------------


def _rate(kind: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"fault spec {kind}={text!r}: the share must be a number 0..1")
    return value


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise FaultSpecError(f"fault spec {key}={text!r}: must be a number >= 0")
    return value


def build_rule(rates: Mapping[str, float], **filters: Iterable[str]) -> FaultRule:
    """A rule from rates and filters, checked: known kinds, shares 0..1 adding up to <= 1."""
    unknown = sorted(set(rates) - set(KINDS))
    if unknown:
        raise FaultSpecError(f"fault kind {unknown[0]!r} is unknown; use one of {', '.join(KINDS)}")
    for kind, value in rates.items():
        _rate(kind, str(value))
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FaultSpecError(
            f"fault shares add up to {sum(rates.values()):g}; they must add up to at most 1"
        )
    bad = sorted(set(filters) - set(FILTER_KEYS))
    if bad:
        raise FaultSpecError(f"fault filter {bad[0]!r} is unknown; use {', '.join(FILTER_KEYS)}")
    return FaultRule(
        rates={k: float(v) for k, v in rates.items() if float(v) > 0},
        **{k: frozenset(v) for k, v in filters.items()},
    )


def parse_spec(spec: str) -> FaultConfig:
    """`seed=7,500=0.1,verbs=create+patch;drop=0.5,verbs=watch` -> FaultConfig."""
    config = FaultConfig()
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        rates: dict[str, float] = {}
        filters: dict[str, list[str]] = {}
        for item in filter(None, (i.strip() for i in part.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise FaultSpecError(f"fault spec item {item!r}: expected key=value")
            if key in KINDS:
                rates[key] = _rate(key, value)
            elif key in FILTER_KEYS:
                filters[key] = [v for v in value.split("+") if v]
            elif key == "seed":
                if not value.strip().lstrip("-").isdigit():
                    raise FaultSpecError(f"fault spec seed={value!r}: must be an integer")
                config = replace(config, seed=int(value))
            elif key == "retry-after":
                config = replace(config, retry_after_seconds=int(_number(key, value)))
            elif key in GLOBAL_KEYS:
                changes: dict[str, Any] = {GLOBAL_KEYS[key]: _number(key, value)}
                config = replace(config, **changes)
            else:
                known = ", ".join([*KINDS, *FILTER_KEYS, *GLOBAL_KEYS])
                raise FaultSpecError(f"fault spec key {key!r} is unknown; use one of {known}")
        if rates:
            rules.append(build_rule(rates, **filters))
        elif filters:
            raise FaultSpecError(f"fault spec rule {part!r} has filters but no fault shares")
    return replace(config, rules=tuple(rules))


def config_from_json(body: Mapping[str, Any]) -> FaultConfig:
    """The HTTP endpoint's body: {"spec": SPEC} or the shape of FaultConfig.to_dict()."""
    if "spec" in body:
        return parse_spec(str(body["spec"]))
    try:
        rules = tuple(
            build_rule(
                {str(k): float(v) for k, v in (raw.get("rates") or {}).items()},
                **{k: [str(x) for x in raw[k]] for k in FILTER_KEYS if raw.get(k)},
            )
            for raw in body.get("rules") or []
        )
        return FaultConfig(
            seed=int(body.get("seed", 0)),
            rules=rules,
            slow_seconds=float(body.get("slowSeconds", 0.5)),
            timeout_seconds=float(body.get("timeoutSeconds", 1.0)),
            retry_after_seconds=int(body.get("retryAfterSeconds", 1)),
            drop_after_seconds=float(body.get("dropAfterSeconds", 2.0)),
            hang_seconds=float(body.get("hangSeconds", 10.0)),
            lag_seconds=float(body.get("lagSeconds", 2.0)),
        )
    except (TypeError, ValueError, AttributeError) as e:
        if isinstance(e, FaultSpecError):
            raise
        raise FaultSpecError(f"fault configuration: {e}") from None


# --- deciding (pure given the draw) -----------------------------------------------------------


def _draws(seed: int, verb: str, path: str, n: int) -> tuple[float, float]:
    digest = hashlib.sha256(f"{seed}\0{verb}\0{path}\0{n}".encode()).digest()
    scale = float(1 << 64)
    return (
        int.from_bytes(digest[:8], "big") / scale,
        int.from_bytes(digest[8:16], "big") / scale,
    )


def applicable(kind: str, verb: str) -> bool:
    if kind in ("drop", "lag"):
        return verb == "watch"
    if kind in ("timeout", "hang-applied", "reset"):
        return verb != "watch"
    if kind == "409":
        return verb in CONFLICT_VERBS
    return True


def choose(
    config: FaultConfig, rule: FaultRule, verb: str, pick: float, amount: float
) -> Fault | None:
    """The fault for one request from its two draws (uniform in [0, 1)), or None."""
    edge = 0.0
    for kind in KINDS:
        share = rule.rates.get(kind, 0.0)
        if share <= 0:
            continue
        edge += share
        if pick < edge:
            if not applicable(kind, verb):
                return None  # this share of requests is left alone for this verb
            seconds = {
                "slow": (0.5 + amount / 2) * config.slow_seconds,
                "timeout": config.timeout_seconds,
                "drop": amount * config.drop_after_seconds,
                "hang": config.hang_seconds,
                "hang-applied": config.hang_seconds,
                "lag": config.lag_seconds,
            }.get(kind, 0.0)
            return Fault(kind, seconds)
    return None


# --- the injector -----------------------------------------------------------------------------


class FaultInjector:
    """Decides and applies faults; thread-safe (configured from tests, used on the server loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config: FaultConfig | None = None
        self._counters: Counter[tuple[str, str]] = Counter()
        self.requests = 0  # resource requests seen while on, whether or not faulted
        self.injected: Counter[str] = Counter()

    @property
    def enabled(self) -> bool:
        return self.config is not None and bool(self.config.rules)

    def configure(self, config: FaultConfig) -> None:
        """Turn faults on with ``config`` (counts restart from zero)."""
        with self._lock:
            self.config = config
            self._counters.clear()
            self.requests = 0
            self.injected = Counter()

    def disable(self) -> None:
        """Turn faults off; the counts stay readable."""
        with self._lock:
            self.config = None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "config": self.config.to_dict() if self.config else None,
                "requests": self.requests,
                "injected": {k: self.injected.get(k, 0) for k in KINDS},
            }

    def decide(self, info: RequestInfo, path: str, user: str) -> Fault | None:
        if not info.is_resource:
            return None
        with self._lock:
            config = self.config
            if config is None:
                return None
            rule = next((r for r in config.rules if r.matches(info, user)), None)
            if rule is None:
                return None
            self.requests += 1
            key = (info.verb, path)
            self._counters[key] += 1
            pick, amount = _draws(config.seed, info.verb, path, self._counters[key])
            fault = choose(config, rule, info.verb, pick, amount)
            if fault is not None:
                self.injected[fault.kind] += 1
            return fault

    async def apply(
        self, fault: Fault, request: web.Request, info: RequestInfo, dispatch: Dispatch
    ) -> web.StreamResponse:
        config = self.config or FaultConfig()
        if fault.kind == "500":
            raise err.ApiError(500, "InternalError", "Internal error occurred: injected fault")
        if fault.kind == "429":
            retry = config.retry_after_seconds
            response = json_response(
                err.ApiError(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    retry_after=retry,
                ).status(),
                429,
            )
            response.headers["Retry-After"] = str(retry)
            return response
        if fault.kind == "409":
            what = err.qualified(info.resource, info.group)
            raise err.ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {what} "{info.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                name=info.name or None,
                group=info.group,
                kind=info.resource,
            )
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return await dispatch()
        if fault.kind == "timeout":
            with contextlib.suppress(err.ApiError):  # the client sees the timeout either way
                await dispatch()
            await asyncio.sleep(fault.seconds)
            raise err.ApiError(
                504,
                "Timeout",
                "Timeout: request did not complete within the allotted timeout (injected fault)",
            )
        if fault.kind in ("hang", "hang-applied"):
            if fault.kind == "hang-applied":
                with contextlib.suppress(err.ApiError):  # done; the client hears nothing of it
                    await dispatch()
            await asyncio.sleep(fault.seconds)
            return _cut(request)
        if fault.kind == "reset":
            return await _reset_mid_body(request, dispatch)
        if fault.kind == "lag":
            request[WATCH_LAG_KEY] = fault.seconds
            return await dispatch()
        # drop: cut the connection mid-stream
        transport = request.transport
        handle = asyncio.get_running_loop().call_later(
            fault.seconds, lambda: transport.abort() if transport is not None else None
        )
        try:
            return await dispatch()
        finally:
            handle.cancel()

    async def endpoint(self, request: web.Request) -> web.StreamResponse:
        """`GET|POST|DELETE /sandbox/faults`: read, set or clear the fault configuration."""
        if request.method == "POST":
            try:
                body = json.loads(await request.read() or b"{}")
                if not isinstance(body, dict):
                    raise FaultSpecError("the body must be a JSON object")
                self.configure(config_from_json(body))
            except (ValueError, FaultSpecError) as e:
                return json_response(err.bad_request(str(e)).status(), 400)
        elif request.method == "DELETE":
            self.disable()
        elif request.method != "GET":
            return json_response(err.method_not_allowed().status(), 405)
        return json_response(self.stats())


def _cut(request: web.Request) -> web.StreamResponse:
    """Abort the connection (a TCP reset, no HTTP answer); aiohttp then writes nothing."""
    if request.transport is not None:
        request.transport.abort()
    return web.StreamResponse()


async def _reset_mid_body(request: web.Request, dispatch: Dispatch) -> web.StreamResponse:
    """Carry the request out, send its answer's status, headers and first half of the body
    (Content-Length announcing all of it), then reset the connection."""
    try:
        answer = await dispatch()
    except err.ApiError as e:
        answer = error_response(e)
    body = answer.body if isinstance(answer, web.Response) else None
    data = body if isinstance(body, bytes) else b""
    partial = web.StreamResponse(status=answer.status, headers=answer.headers)
    partial.content_length = len(data)
    await partial.prepare(request)
    await partial.write(data[: len(data) // 2])
    _cut(request)
    return partial


def fault_extra(fault: Fault | None) -> dict[str, Any]:
    """What the request log records about a request's fault."""
    return {} if fault is None else {"fault": fault.kind}


__all__ = [
    "KINDS",
    "Fault",
    "FaultConfig",
    "FaultInjector",
    "FaultRule",
    "FaultSpecError",
    "build_rule",
    "choose",
    "config_from_json",
    "fault_extra",
    "parse_spec",
]
