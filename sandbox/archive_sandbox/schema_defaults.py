"""Defaulting and pruning of custom resources, following apiextensions' structural algorithms.

Both never touch the resource's ``metadata`` (the server owns ObjectMeta) nor
``apiVersion``/``kind``, and never modify their input: they copy only the dicts and lists on
the way to a change, so the result shares unchanged values with the input (the store's objects
are immutable by convention, so sharing is safe and saves a deep copy per write).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from .copies import deep_copy

Schema = dict[str, Any]

_RESOURCE_KEYS = frozenset({"apiVersion", "kind", "metadata"})


def _non_nullable_null(value: Any, schema: Schema | None) -> bool:
    return value is None and not (schema or {}).get("nullable", False)


def apply_defaults(
    obj: dict[str, Any], schema: Schema, clean: Container[str] = ()
) -> dict[str, Any]:
    """Return ``obj`` with schema defaults applied (``obj`` itself when none apply).

    Like ``structuraldefaulting.Default`` plus ``PruneNonNullableNullsWithoutDefaults``:
    a property's default applies when the property is absent (or null but not nullable)
    and its parent object exists; defaulted values are defaulted recursively; nulls of
    non-nullable properties without a default are dropped. Top-level properties named in
    ``clean`` are known to carry their defaults already and are not walked.
    """
    return _default_object(obj, schema, resource_root=True, clean=clean)


def _default(value: Any, schema: Schema | None, resource_root: bool = False) -> Any:
    if not schema:
        return value
    if isinstance(value, dict):
        return _default_object(value, schema, resource_root)
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return value
        out: list[Any] | None = None
        for index, item in enumerate(value):
            new = item
            if _non_nullable_null(item, items) and "default" in items:
                new = deep_copy(items["default"])
            new = _default(new, items, _embedded(items))
            if new is not item:
                out = list(value) if out is None else out
                out[index] = new
        return value if out is None else out
    return value


def _default_object(
    value: dict[str, Any], schema: Schema, resource_root: bool, clean: Container[str] = ()
) -> dict[str, Any]:
    properties: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    out: dict[str, Any] | None = None  # the copy, made on the first change

    def writable() -> dict[str, Any]:
        nonlocal out
        if out is None:
            out = dict(value)
        return out

    for key, prop in properties.items():
        if resource_root and key in _RESOURCE_KEYS:
            continue
        if "default" in prop and (key not in value or _non_nullable_null(value[key], prop)):
            writable()[key] = deep_copy(prop["default"])
    for key, sub in list((value if out is None else out).items()):
        if (resource_root and key in _RESOURCE_KEYS) or key in clean:
            continue
        if key in properties:
            sub_schema = properties[key]
            if _non_nullable_null(sub, sub_schema) and "default" not in sub_schema:
                del writable()[key]
                continue
        elif isinstance(additional, dict):
            sub_schema = additional
            if _non_nullable_null(sub, additional):
                if "default" not in additional:
                    del writable()[key]
                    continue
                sub = writable()[key] = deep_copy(additional["default"])
        else:
            continue
        new = _default(sub, sub_schema, _embedded(sub_schema))
        if new is not sub:
            writable()[key] = new
    return value if out is None else out


def prune(
    obj: dict[str, Any], schema: Schema, clean: Container[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Return ``obj`` without fields the schema does not know (``obj`` itself when there are
    none), and the paths of the fields removed.

    Paths are written like the API server's strict field validation reports them
    (``spec.schedules[0].foo``). Top-level properties named in ``clean`` are known to hold
    nothing unknown and are not walked.
    """
    removed: list[str] = []
    return _prune_object(obj, schema, "", removed, True, clean), removed


def _prune(
    value: Any, schema: Schema, path: str, removed: list[str], resource_root: bool = False
) -> Any:
    if isinstance(value, dict):
        return _prune_object(value, schema, path, removed, resource_root)
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return value
        out: list[Any] | None = None
        for index, item in enumerate(value):
            new = _prune(item, items, f"{path}[{index}]", removed, _embedded(items))
            if new is not item:
                out = list(value) if out is None else out
                out[index] = new
        return value if out is None else out
    return value


def _prune_object(
    value: dict[str, Any],
    schema: Schema,
    path: str,
    removed: list[str],
    resource_root: bool,
    clean: Container[str] = (),
) -> dict[str, Any]:
    properties: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
    keep_resource_keys = resource_root or _embedded(schema)
    out: dict[str, Any] | None = None  # the copy, made on the first change
    for key, sub in value.items():
        if key in clean:
            continue
        sub_path = f"{path}.{key}" if path else key
        if keep_resource_keys and key in _RESOURCE_KEYS:
            if key == "metadata" or key not in properties:
                continue
            new = _prune(sub, properties[key], sub_path, removed)
        elif key in properties:
            new = _prune(sub, properties[key], sub_path, removed, _embedded(properties[key]))
        elif isinstance(additional, dict):
            new = _prune(sub, additional, sub_path, removed, _embedded(additional))
        elif not preserve:
            out = dict(value) if out is None else out
            del out[key]
            removed.append(sub_path)
            continue
        else:
            continue
        if new is not sub:
            out = dict(value) if out is None else out
            out[key] = new
    return value if out is None else out


def _embedded(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-embedded-resource"))
