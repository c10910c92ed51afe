"""String ``format`` checks as the API server's OpenAPI validator (kube-openapi strfmt) does them.

Formats Kubernetes does not know are ignored, exactly like the API server does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections.abc import Callable

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(z|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_UUID_VERSION = {
    "uuid3": re.compile(
        r"^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I
    ),
    "uuid4": re.compile(
        r"^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.I
    ),
    "uuid5": re.compile(
        r"^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.I
    ),
}
_HOSTNAME_LABEL = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_DURATION = re.compile(
    r"^[-+]?((\d+(\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w|"
    r"seconds?|minutes?|hours?|days?|weeks?)\s*)+$"
)


def parse_date(text: str) -> dt.datetime | None:
    """``format: date`` as Go's ``time.Parse("2006-01-02")``: the day must exist."""
    match = _DATE.match(text)
    if not match:
        return None
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def parse_date_time(text: str) -> dt.datetime | None:
    """``format: date-time``: RFC 3339 with a zone; ``t``/``z`` may be lower case."""
    parts = text.lower().split("t")
    if len(text) < 4 or len(parts) != 2 or parse_date(parts[0]) is None:
        return None
    match = _TIME.match(parts[1])
    if not match or match[1] > "23" or match[2] > "59" or match[3] > "59":
        return None
    iso = text.upper().replace("Z", "+00:00")
    if match[4] and len(match[4]) > 7:  # Python accepts at most microseconds
        iso = iso.replace(match[4], match[4][:7])
    try:
        return dt.datetime.fromisoformat(iso)
    except ValueError:
        return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def _is_hostname(text: str) -> bool:
    if not text or len(text) > 255:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in text.rstrip(".").split("."))


_CHECKERS: dict[str, Callable[[str], bool]] = {
    "date": lambda s: parse_date(s) is not None,
    "date-time": lambda s: parse_date_time(s) is not None,
    "datetime": lambda s: parse_date_time(s) is not None,
    "byte": _is_base64,
    "uuid": lambda s: bool(_UUID.match(s)),
    "uuid3": lambda s: bool(_UUID_VERSION["uuid3"].match(s)),
    "uuid4": lambda s: bool(_UUID_VERSION["uuid4"].match(s)),
    "uuid5": lambda s: bool(_UUID_VERSION["uuid5"].match(s)),
    "ipv4": lambda s: _is_ip(s, 4),
    "ipv6": lambda s: _is_ip(s, 6),
    "cidr": _is_cidr,
    "hostname": _is_hostname,
    "mac": lambda s: bool(_MAC.match(s)),
    "email": lambda s: bool(_EMAIL.match(s)),
    "duration": lambda s: bool(_DURATION.match(s)),
}


# The string formats a CRD schema keeps (apiextensions `supportedVersionedFormats`, compared
# without dashes); the API server blanks every other format before validating.
_KEPT_STRING_FORMATS = frozenset(
    "bsonobjectid uri email hostname ipv4 ipv6 cidr mac uuid uuid3 uuid4 uuid5 isbn isbn10 isbn13 "
    "creditcard ssn hexcolor rgbcolor byte password date duration datetime k8s-short-name "
    "k8s-long-name".replace("-", "").split()
)


def kept_format(schema: dict[str, object]) -> str:
    """The schema's ``format`` as the API server validates with it, or "" when it is stripped
    (``StripUnsupportedFormatsPostProcessorForVersion``)."""
    fmt = schema.get("format")
    if not isinstance(fmt, str) or not fmt:
        return ""
    kind = schema.get("type") or ""
    if kind == "string" or kind == "":
        return fmt if fmt.replace("-", "") in _KEPT_STRING_FORMATS else ""
    if kind == "integer":
        return fmt if fmt in ("int32", "int64") else ""
    if kind == "number":
        return fmt if fmt in ("float", "double") else ""
    return ""


def value_format(value: object) -> str:
    """The format kube-openapi infers from a decoded JSON value (``schemaInfoForType``):
    JSON integers decode as int64 and other numbers as float64; other kinds have none."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return ""


def format_ok(fmt: str, text: str) -> bool:
    """True when ``text`` satisfies ``fmt``; unknown formats always pass."""
    checker = _CHECKERS.get(fmt)
    return checker(text) if checker else True
