"""The Kubernetes CEL extension functions, as Python callbacks for the ``cel`` package.

The Rust-backed ``cel`` package (PyPI ``common-expression-language``) ships the
CEL core (macros, ``size``, ``matches``, ``startsWith``..., timestamps/durations,
conversions, optionals). Kubernetes adds cel-go's strings extension, its own
list, regex and URL libraries and cel-go's sets extension; those are implemented
here. ``x.f(a)`` is sugar for ``f(x, a)`` in this engine, so member-style calls
reach these callbacks with the receiver first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

# Name the size() override is registered under (see cel_compile: cel-rust counts
# UTF-8 bytes for strings, CEL and Kubernetes count code points).
SIZE_FUNCTION = "k8sSize__"


class CelEvalError(Exception):
    """A runtime error raised from a library function; the message is cel-go's."""


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise CelEvalError(f"invalid regex: {pattern}: {error}") from error


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | dict):
        return len(value)
    raise CelEvalError("no such overload: size")


# -- strings (cel-go ext.Strings) ---------------------------------------------------


def _char_at(text: str, index: int) -> str:
    if index < 0 or index > len(text):
        raise CelEvalError(f"index out of range: {index}")
    return text[index : index + 1]


def _index_of(target: Any, needle: Any, offset: int = 0) -> int:
    if isinstance(target, list):
        for position, item in enumerate(target):
            if item == needle:
                return position
        return -1
    if offset < 0 or offset > len(target):
        raise CelEvalError(f"index out of range: {offset}")
    return int(target.find(needle, offset))


def _last_index_of(target: Any, needle: Any, offset: int | None = None) -> int:
    if isinstance(target, list):
        for position in range(len(target) - 1, -1, -1):
            if target[position] == needle:
                return position
        return -1
    if offset is None:
        return int(target.rfind(needle))
    if offset < 0 or offset > len(target):
        raise CelEvalError(f"index out of range: {offset}")
    return int(target.rfind(needle, 0, offset + len(needle)))


def _ascii_case(convert: Callable[[str], str]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return "".join(convert(ch) if ch.isascii() else ch for ch in text)

    return apply


def _replace(text: str, old: str, new: str, count: int = -1) -> str:
    return text.replace(old, new, count)


def _split(text: str, separator: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    if separator == "":
        parts = list(text)
        if limit > 0 and len(parts) > limit:
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    return text.split(separator, limit - 1 if limit > 0 else -1)


def _substring(text: str, start: int, end: int | None = None) -> str:
    stop = len(text) if end is None else end
    if start < 0 or start > len(text) or stop < start or stop > len(text):
        raise CelEvalError(f"index out of range: {start if end is None else end}")
    return text[start:stop]


def _join(items: list[str], separator: str = "") -> str:
    return separator.join(items)


# -- lists (Kubernetes library/lists.go) --------------------------------------------


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


def _sum(items: list[Any]) -> Any:
    if items and isinstance(items[0], float):
        return float(sum(items))
    return sum(items) if items else 0


def _min(items: list[Any]) -> Any:
    if not items:
        raise CelEvalError("min called on empty list")
    return min(items)


def _max(items: list[Any]) -> Any:
    if not items:
        raise CelEvalError("max called on empty list")
    return max(items)


# -- regex (Kubernetes library/regex.go) --------------------------------------------


def _find(text: str, pattern: str) -> str:
    match = _regex(pattern).search(text)
    return match.group(0) if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group(0) for m in _regex(pattern).finditer(text)]
    return found if limit < 0 else found[:limit]


# -- URLs (Kubernetes library/urls.go) ----------------------------------------------

_URL_KEY = "__k8s_url__"


def _url(text: str) -> dict[str, str]:
    if not _is_url(text):
        raise CelEvalError(f"URL parse error during conversion from string: {text}")
    return {_URL_KEY: text}


def _is_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return bool(parts.scheme) or text.startswith("/")


def _url_part(getter: Callable[[Any], str]) -> Callable[[dict[str, str]], str]:
    def apply(url: dict[str, str]) -> str:
        return getter(urlsplit(url[_URL_KEY]))

    return apply


# -- sets (cel-go ext.Sets) -----------------------------------------------------------


def _sets_contains(items: list[Any], sub: list[Any]) -> bool:
    return all(x in items for x in sub)


def _sets_equivalent(a: list[Any], b: list[Any]) -> bool:
    return _sets_contains(a, b) and _sets_contains(b, a)


def _sets_intersects(a: list[Any], b: list[Any]) -> bool:
    return any(x in a for x in b)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    SIZE_FUNCTION: _size,
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": _ascii_case(str.lower),
    "upperAscii": _ascii_case(str.upper),
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "trim": str.strip,
    "join": _join,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "find": _find,
    "findAll": _find_all,
    "url": _url,
    "isURL": _is_url,
    "getScheme": _url_part(lambda p: p.scheme),
    "getHost": _url_part(lambda p: p.netloc.rsplit("@", 1)[-1]),
    "getHostname": _url_part(lambda p: p.hostname or ""),
    "getPort": _url_part(lambda p: str(p.port) if p.port else ""),
    "getEscapedPath": _url_part(lambda p: p.path),
    "sets.contains": _sets_contains,
    "sets.equivalent": _sets_equivalent,
    "sets.intersects": _sets_intersects,
}

# Functions the engine provides natively and Kubernetes also has.
BUILTIN_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "has",
        "all",
        "exists",
        "exists_one",
        "map",
        "filter",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
        "hasValue",
        "value",
        "orValue",
        "or",
        "optional.of",
        "optional.none",
        "optional.ofNonZeroValue",
    }
)

KNOWN_FUNCTIONS = BUILTIN_FUNCTIONS | frozenset(FUNCTIONS) - {SIZE_FUNCTION}
