"""Field errors shaped and worded like k8s.io/apimachinery's ``field.Error``.

The API server renders each cause as ``<field>: <body>`` where the body is
``<Type>[: <value>][: <detail>]``. :class:`FieldError` keeps the field apart so the
HTTP layer can fill ``status.details.causes`` and the message.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Reasons as Kubernetes names them in StatusCause.reason.
INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TYPE_INVALID = "FieldValueTypeInvalid"

_TITLES = {
    INVALID: "Invalid value",
    REQUIRED: "Required value",
    NOT_SUPPORTED: "Unsupported value",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TYPE_INVALID: "Invalid value",
}


class _Omit:
    """Marker for "print no value" (Go's ``field.OmitValueType``)."""


OMIT = _Omit()


@dataclass(frozen=True)
class FieldError:
    type: str
    field: str
    detail: str

    def message(self) -> str:
        """The full cause text, ``<field>: <detail>``, as kubectl shows it."""
        return f"{self.field}: {self.detail}"


def go_float(value: float) -> str:
    """Format a float like Go's ``%v`` (shortest repr, exponent from 1e21)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def go_quote(text: str) -> str:
    """Quote a string like Go's ``%q`` / ``strconv.Quote`` (close enough for UTF-8 text)."""
    return json.dumps(text, ensure_ascii=False)


def go_number(value: int | float) -> str:
    return go_float(value) if isinstance(value, float) else str(value)


def _go_value(value: Any) -> str:
    """Render a bad value like ``field.Error.ErrorBody`` does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        # Go prints non-simple values with %#v; maps come out like this.
        items = ", ".join(f"{go_quote(str(k))}:{_go_literal(v)}" for k, v in value.items())
        return "map[string]interface {}{" + items + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_literal(v) for v in value) + "}"
    return str(value)


def _go_literal(value: Any) -> str:
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool | int | float | str):
        return _go_value(value)
    return _go_value(value)


def make(error_type: str, field: str, value: Any = OMIT, detail: str = "") -> FieldError:
    body = _TITLES[error_type]
    if error_type not in (REQUIRED, FORBIDDEN, TOO_LONG) and value is not OMIT:
        body += ": " + _go_value(value)
    if detail:
        body += ": " + detail
    return FieldError(error_type, field, body)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return make(INVALID, field, value, detail)


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return make(TYPE_INVALID, field, value, detail)


def required(field: str, detail: str = "") -> FieldError:
    return make(REQUIRED, field, detail=detail)


def forbidden(field: str, detail: str) -> FieldError:
    return make(FORBIDDEN, field, detail=detail)


def duplicate(field: str, value: Any) -> FieldError:
    return make(DUPLICATE, field, value)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return make(NOT_SUPPORTED, field, value, detail)


def too_long(field: str, max_length: int) -> FieldError:
    # Kubernetes >= 1.32 wording (field.TooLong merged with TooLongMaxLength).
    unit = "byte" if max_length == 1 else "bytes"
    return make(TOO_LONG, field, detail=f"may not be more than {max_length} {unit}")


def too_many(field: str, actual: int, maximum: int) -> FieldError:
    unit = "items" if maximum > 1 else "item"
    return make(TOO_MANY, field, actual, f"must have at most {maximum} {unit}")
