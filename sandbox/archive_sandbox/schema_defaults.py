"""Defaulting and pruning of custom resources, following apiextensions' structural algorithms.

Both work on a deep copy and never touch the resource's ``metadata`` (the server
owns ObjectMeta) nor ``apiVersion``/``kind``.
"""

from __future__ import annotations

from typing import Any

from .copies import deep_copy

Schema = dict[str, Any]

_RESOURCE_KEYS = frozenset({"apiVersion", "kind", "metadata"})


def _non_nullable_null(value: Any, schema: Schema | None) -> bool:
    return value is None and not (schema or {}).get("nullable", False)


def apply_defaults(obj: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """Return a copy of ``obj`` with schema defaults applied.

    Like ``structuraldefaulting.Default`` plus ``PruneNonNullableNullsWithoutDefaults``:
    a property's default applies when the property is absent (or null but not nullable)
    and its parent object exists; defaulted values are defaulted recursively; nulls of
    non-nullable properties without a default are dropped.
    """
    result = deep_copy(obj)
    _default(result, schema, resource_root=True)
    return result


def _default(value: Any, schema: Schema | None, resource_root: bool = False) -> None:
    if not schema:
        return
    if isinstance(value, dict):
        properties: dict[str, Schema] = schema.get("properties") or {}
        for key, prop in properties.items():
            if resource_root and key in _RESOURCE_KEYS:
                continue
            if "default" in prop and (key not in value or _non_nullable_null(value[key], prop)):
                value[key] = deep_copy(prop["default"])
        additional = schema.get("additionalProperties")
        for key in list(value):
            if resource_root and key in _RESOURCE_KEYS:
                continue
            sub = value[key]
            if key in properties:
                prop = properties[key]
                if _non_nullable_null(sub, prop) and "default" not in prop:
                    del value[key]
                    continue
                _default(sub, prop, _embedded(prop))
            elif isinstance(additional, dict):
                if _non_nullable_null(sub, additional):
                    if "default" in additional:
                        value[key] = deep_copy(additional["default"])
                    else:
                        del value[key]
                        continue
                _default(value[key], additional, _embedded(additional))
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return
        for index, item in enumerate(value):
            if _non_nullable_null(item, items) and "default" in items:
                value[index] = deep_copy(items["default"])
            _default(value[index], items, _embedded(items))


def prune(obj: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of ``obj`` without fields the schema does not know, and their paths.

    Paths are written like the API server's strict field validation reports them
    (``spec.schedules[0].foo``).
    """
    result = deep_copy(obj)
    removed: list[str] = []
    _prune(result, schema, "", removed, resource_root=True)
    return result, removed


def _prune(
    value: Any, schema: Schema, path: str, removed: list[str], resource_root: bool = False
) -> None:
    if isinstance(value, dict):
        _prune_object(value, schema, path, removed, resource_root)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", removed, _embedded(items))


def _prune_object(
    value: dict[str, Any], schema: Schema, path: str, removed: list[str], resource_root: bool
) -> None:
    properties: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
    keep_resource_keys = resource_root or _embedded(schema)
    for key in list(value):
        sub_path = f"{path}.{key}" if path else key
        if keep_resource_keys and key in _RESOURCE_KEYS:
            if key != "metadata" and key in properties:
                _prune(value[key], properties[key], sub_path, removed)
            continue
        if key in properties:
            _prune(value[key], properties[key], sub_path, removed, _embedded(properties[key]))
        elif isinstance(additional, dict):
            _prune(value[key], additional, sub_path, removed, _embedded(additional))
        elif not preserve:
            del value[key]
            removed.append(sub_path)


def _embedded(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-embedded-resource"))
