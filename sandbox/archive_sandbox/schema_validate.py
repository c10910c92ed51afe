"""OpenAPI v3 value validation of a custom resource, worded like the API server.

The API server runs kube-openapi's validator and converts its results with
``kubeOpenAPIResultToFieldErrors``; the detail of most errors repeats the path
("spec.x in body should match '^a$'"). Then it checks ``x-kubernetes-list-type``
sets and maps for duplicates. Both passes live here; CEL rules live in cel_rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from functools import lru_cache
from typing import Any

from . import schema_errors as fe
from .schema_errors import FieldError, go_number, go_quote
from .schema_formats import format_ok, kept_format, value_format

Schema = dict[str, Any]

_RESOURCE_META = ("apiVersion", "kind", "metadata")


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_matches(value: Any, schema: Schema) -> bool:
    expected = schema.get("type", "")
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or _is_integer(value)
    if not expected:
        return True
    if expected == "integer":
        return _is_integer(value)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return json_type(value) == str(expected)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class OpenAPIValidator:
    """Validates a (defaulted, pruned) object against a structural schema."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self.errors: list[FieldError] = []
        self._clean: Container[str] = ()

    def run(self, obj: Any, clean: Container[str] = ()) -> list[FieldError]:
        """The errors of ``obj``; top-level properties named in ``clean`` are known valid."""
        self.errors = []
        self._clean = clean
        self._validate(obj, self._schema, "", resource_root=True)
        return self.errors

    # -- helpers producing kube-openapi style messages ---------------------------

    def _add(self, error: FieldError) -> None:
        self.errors.append(error)

    def _validate(self, value: Any, schema: Schema, path: str, resource_root: bool = False) -> None:
        if value is None:
            if schema.get("nullable") or not (
                schema.get("type") or schema.get("x-kubernetes-int-or-string")
            ):
                return
            self._type_error(path, schema, "null")
            return
        if self._format_type_error(value, schema, path):
            return
        if not _type_matches(value, schema):
            self._type_error(path, schema, json_type(value))
            return
        if isinstance(value, str):
            self._validate_string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._validate_number(value, schema, path)
        elif isinstance(value, list):
            self._validate_array(value, schema, path)
        self._validate_enum(value, schema, path)
        if isinstance(value, dict):
            self._validate_object(value, schema, path, resource_root)

    def _format_type_error(self, value: Any, schema: Schema, path: str) -> bool:
        """kube-openapi's first type check: a value that is neither a string nor an array,
        checked against a schema with a (kept) format, must have the schema's type or that
        format; otherwise the error names the format and the value's inferred format
        (``must be of type date: "int64"``)."""
        fmt = kept_format(schema)
        if not fmt or isinstance(value, str | list) or schema.get("x-kubernetes-int-or-string"):
            return False
        expected = schema.get("type", "")
        actual = json_type(value)
        inferred = value_format(value)
        whole_float = isinstance(value, float) and value.is_integer()
        if (
            expected == actual
            or inferred == fmt
            or (actual == "number" and whole_float and expected == "integer")
            or (actual == "integer" and expected == "number")
        ):
            return False
        detail = f"{path} in body must be of type {fmt}: {go_quote(inferred)}"
        self._add(fe.type_invalid(path, inferred, detail))
        return True

    def _type_error(self, path: str, schema: Schema, actual: str) -> None:
        if schema.get("x-kubernetes-int-or-string"):
            expected = "integer,string"
        else:
            expected = schema.get("type", "")
        detail = f"{path} in body must be of type {expected}: {go_quote(actual)}"
        self._add(fe.type_invalid(path, actual, detail))

    def _validate_string(self, value: str, schema: Schema, path: str) -> None:
        length = len(value)  # code points, like utf8.RuneCountInString
        if "maxLength" in schema and length > schema["maxLength"]:
            self._add(fe.too_long(path, int(schema["maxLength"])))
        if "minLength" in schema and length < schema["minLength"]:
            detail = f"{path} in body should be at least {schema['minLength']} chars long"
            self._add(fe.invalid(path, value, detail))
        fmt = schema.get("format")
        if fmt and schema.get("type") == "string" and not format_ok(fmt, value):
            detail = f"{path} in body must be of type {fmt}: {go_quote(value)}"
            self._add(fe.type_invalid(path, value, detail))
        pattern = schema.get("pattern")
        if pattern is not None and not _regex(pattern).search(value):
            detail = f"{path} in body should match '{pattern}'"
            self._add(fe.invalid(path, value, detail))

    def _validate_number(self, value: float, schema: Schema, path: str) -> None:
        if "multipleOf" in schema:
            factor = schema["multipleOf"]
            if factor and not (value / factor).is_integer():
                detail = f"{path} in body should be a multiple of {go_number(factor)}"
                self._add(fe.invalid(path, value, detail))
        if "maximum" in schema:
            limit = schema["maximum"]
            exclusive = bool(schema.get("exclusiveMaximum"))
            if value > limit or (exclusive and value == limit):
                relation = "less than" if exclusive else "less than or equal to"
                bound = go_number(int(limit) if isinstance(value, int) else float(limit))
                detail = f"{path} in body should be {relation} {bound}"
                self._add(fe.invalid(path, value, detail))
        if "minimum" in schema:
            limit = schema["minimum"]
            exclusive = bool(schema.get("exclusiveMinimum"))
            if value < limit or (exclusive and value == limit):
                relation = "greater than" if exclusive else "greater than or equal to"
                bound = go_number(int(limit) if isinstance(value, int) else float(limit))
                detail = f"{path} in body should be {relation} {bound}"
                self._add(fe.invalid(path, value, detail))

    def _validate_array(self, value: list[Any], schema: Schema, path: str) -> None:
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                self._validate(
                    item,
                    items,
                    f"{path}[{index}]",
                    items.get("x-kubernetes-embedded-resource", False),
                )
        if "minItems" in schema and len(value) < schema["minItems"]:
            detail = f"{path} in body should have at least {schema['minItems']} items"
            self._add(fe.invalid(path, len(value), detail))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self._add(fe.too_many(path, len(value), int(schema["maxItems"])))

    def _validate_enum(self, value: Any, schema: Schema, path: str) -> None:
        enum = schema.get("enum")
        if not enum or any(_json_equal(value, allowed) for allowed in enum):
            return
        supported = [v if isinstance(v, str) else json.dumps(v) for v in enum]
        self._add(fe.not_supported(path, value, supported))

    def _validate_object(
        self, value: dict[str, Any], schema: Schema, path: str, resource_root: bool
    ) -> None:
        count = len(value)
        if "minProperties" in schema and count < schema["minProperties"]:
            detail = f"{path} in body should have at least {schema['minProperties']} properties"
            self._add(fe.invalid(path, count, detail))
            return  # kube-openapi stops validating this object here
        if "maxProperties" in schema and count > schema["maxProperties"]:
            self._add(fe.too_many(path, count, int(schema["maxProperties"])))
            return
        properties: dict[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = resource_root or schema.get("x-kubernetes-embedded-resource", False)
        for key, sub in value.items():
            if resource_root and key in self._clean:
                continue
            sub_path = _child(path, key)
            if key in properties:
                if embedded and key == "metadata":
                    self._validate_metadata(sub, properties[key], sub_path)
                else:
                    self._validate(sub, properties[key], sub_path)
            elif isinstance(additional, dict):
                self._validate(sub, additional, sub_path)
        for name in schema.get("required") or []:
            if name not in value:
                self._add(fe.required(_child(path, name)))
        if embedded and not resource_root:
            for name in ("apiVersion", "kind"):
                if not value.get(name):
                    self._add(fe.required(_child(path, name), ""))

    def _validate_metadata(self, meta: Any, schema: Schema, path: str) -> None:
        """Only name and generateName of ObjectMeta may be constrained by a CRD schema."""
        if not isinstance(meta, dict):
            return
        properties = schema.get("properties") or {}
        for key in ("name", "generateName"):
            if key in meta and key in properties:
                self._validate(meta[key], properties[key], _child(path, key))


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# -- x-kubernetes-list-type ---------------------------------------------------------


def validate_list_types(
    obj: Any, schema: Schema, path: str = "", clean: Container[str] = ()
) -> list[FieldError]:
    """Duplicate checks for ``set`` and ``map`` lists (apiextensions listtype validation).

    Top-level properties named in ``clean`` are known valid and not walked.
    """
    errors: list[FieldError] = []
    if clean and isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k not in clean}
    _walk_lists(obj, schema, path, errors)
    return errors


def _walk_lists(value: Any, schema: Schema, path: str, errors: list[FieldError]) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in properties:
                _walk_lists(sub, properties[key], _child(path, key), errors)
            elif isinstance(additional, dict):
                _walk_lists(sub, additional, _child(path, key), errors)
    elif isinstance(value, list):
        items = schema.get("items")
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            _check_set(value, path, errors)
        elif list_type == "map" and isinstance(items, dict):
            _check_map(value, items, schema.get("x-kubernetes-list-map-keys") or [], path, errors)
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk_lists(item, items, f"{path}[{index}]", errors)


def _check_set(value: list[Any], path: str, errors: list[FieldError]) -> None:
    seen: list[Any] = []
    for index, item in enumerate(value):
        if any(_json_equal(item, other) for other in seen):
            errors.append(fe.duplicate(f"{path}[{index}]", item))
        else:
            seen.append(item)


def _check_map(
    value: list[Any], items: Schema, keys: list[str], path: str, errors: list[FieldError]
) -> None:
    seen: list[dict[str, Any]] = []
    item_props = items.get("properties") or {}
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            continue  # the OpenAPI pass already reported the type error
        key: dict[str, Any] = {}
        complete = True
        for name in keys:
            if name in item:
                found = item[name]
            elif "default" in item_props.get(name, {}):
                found = item_props[name]["default"]
            else:
                errors.append(fe.required(_child(item_path, name)))
                complete = False
                continue
            if found is None:
                errors.append(fe.required(_child(item_path, name), "cannot be null"))
                complete = False
                continue
            key[name] = found
        if not complete:
            continue
        if any(_json_equal(key, other) for other in seen):
            errors.append(fe.duplicate(item_path, key))
        else:
            seen.append(key)
