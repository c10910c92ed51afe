"""Small helpers shared by the HTTP modules: JSON answers, Status errors, query flags."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from . import errors as err

GIT_VERSION = "v1.37.0-sandbox"
TABLE_MARKER = "as=Table"


def encode_json(value: Any) -> bytes:
    """Compact JSON, as UTF-8 like the API server writes it (not \\u-escaped). orjson, in C,
    encodes an answer or a watch event several times faster than the json module; it refuses
    integers beyond 64 bits, which the json module then encodes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(
        body=encode_json(body),
        status=status,
        content_type="application/json",
    )
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{escaped}"')
    return resp


def error_response(e: err.ApiError) -> web.Response:
    return json_response(e.status(), e.code)


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def wants_table(request: web.Request) -> bool:
    return TABLE_MARKER in request.headers.get("Accept", "")
