"""Minimal /openapi/v2 and /openapi/v3 answers (filled in once kubectl's needs are known)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store


def document(store: Store, parts: list[str], hash_: str | None) -> dict[str, Any] | None:
    if parts == ["v2"]:
        return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.34.0"}, "paths": {}, "definitions": {}}
    if parts == ["v3"]:
        return {"paths": {}}
    return None
