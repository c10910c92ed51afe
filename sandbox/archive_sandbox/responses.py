"""Small helpers shared by the HTTP modules: JSON answers, Status errors, query flags."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import errors as err

GIT_VERSION = "v1.37.0-sandbox"
TABLE_MARKER = "as=Table"


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
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
