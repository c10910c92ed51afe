"""Evaluating ``x-kubernetes-validations`` on a custom resource, as apiextensions' validator does.

Each schema node's rules run with ``self`` bound to the value at that node (null values
are skipped). Transition rules (those that mention ``oldSelf``) run only on update and
only where the old value can be correlated: through object properties and
``additionalProperties`` (unless ``x-kubernetes-map-type: atomic``) and through the items of
``x-kubernetes-list-type: map`` lists, matched by their keys. Items of other lists are never
correlated. ``optionalOldSelf: true`` makes ``oldSelf`` an optional that is empty on create.
On update, rules without ``oldSelf`` are ratcheted: not enforced where the value equals its
correlated old value (CRDValidationRatcheting, on by default since Kubernetes 1.30).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import cel

from . import schema_errors as fe
from .cel_compile import CompiledRule, compile_rule, escape_property
from .cel_library import FUNCTIONS
from .schema_errors import OMIT, FieldError
from .schema_formats import parse_date, parse_date_time

Schema = dict[str, Any]

_FAILED_CALLBACK = re.compile(r"Python function call failed: \w+: (.*?)\. Check function", re.S)
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}
_ROOT_META = {"type": "object", "properties": {"name": {"type": "string"}, "generateName": {}}}


@dataclass
class _Rule:
    spec: dict[str, Any]
    compiled: CompiledRule
    message_program: Any


class RuleSet:
    """The compiled rules of one schema, ready to validate objects."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._rules: dict[int, list[_Rule]] = {}
        # Nodes with a transition rule at or below them: the only rules that still run on
        # unchanged values (see _walk).
        self._transitions: set[int] = set()
        self._compile(schema, resource_root=True)

    def _compile(self, schema: Schema, resource_root: bool = False) -> bool:
        """Compile the rules at and below ``schema``; True if any of them uses oldSelf."""
        rules = []
        for spec in schema.get("x-kubernetes-validations") or []:
            compiled = compile_rule(spec.get("rule", ""), schema, resource_root)
            message = None
            if spec.get("messageExpression"):
                message_rule = compile_rule(spec["messageExpression"], schema, resource_root)
                message = message_rule.program
            rules.append(_Rule(spec, compiled, message))
        if rules:
            self._rules[id(schema)] = rules
        transitions = any(rule.compiled.uses_old_self for rule in rules)
        subs = list((schema.get("properties") or {}).values())
        subs += [
            schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)
        ]
        for sub in subs:
            if self._compile(sub, bool(sub.get("x-kubernetes-embedded-resource"))):
                transitions = True
        if transitions:
            self._transitions.add(id(schema))
        return transitions

    @property
    def empty(self) -> bool:
        return not self._rules

    def validate(self, obj: Any, old: Any | None) -> list[FieldError]:
        errors: list[FieldError] = []
        if self._rules:
            self._walk(obj, old, old is not None, self._schema, "", errors, resource_root=True)
        return errors

    # -- walking --------------------------------------------------------------------

    def _walk(
        self,
        value: Any,
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        errors: list[FieldError],
        resource_root: bool = False,
    ) -> None:
        if value is None:
            return
        # Ratcheting (Kubernetes 1.30+): where the value equals its correlated old value, rules
        # without oldSelf are not enforced, so an unchanged subtree without transition rules
        # need not be walked at all.
        unchanged = has_old and value == old
        if unchanged and id(schema) not in self._transitions:
            return
        for rule in self._rules.get(id(schema), []):
            if unchanged and not rule.compiled.uses_old_self:
                continue
            error = self._evaluate(rule, value, old, has_old, schema, path, resource_root)
            if error is not None:
                errors.append(error)
        if isinstance(value, dict):
            self._walk_object(value, old, has_old, schema, path, errors)
        elif isinstance(value, list):
            self._walk_list(value, old, has_old, schema, path, errors)

    def _walk_object(
        self,
        value: dict[str, Any],
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        errors: list[FieldError],
    ) -> None:
        old_map = old if has_old and isinstance(old, dict) else {}
        correlatable = has_old and schema.get("x-kubernetes-map-type") != "atomic"
        properties: dict[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in properties:
                sub_schema, sub_path = properties[key], f"{path}.{key}" if path else key
            elif isinstance(additional, dict):
                sub_schema, sub_path = additional, f"{path}[{key}]"
            else:
                continue
            sub_has_old = correlatable and key in old_map
            self._walk(
                sub,
                old_map.get(key),
                sub_has_old,
                sub_schema,
                sub_path,
                errors,
                bool(sub_schema.get("x-kubernetes-embedded-resource")),
            )

    def _walk_list(
        self,
        value: list[Any],
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        errors: list[FieldError],
    ) -> None:
        items = schema.get("items")
        if not isinstance(items, dict):
            return
        old_by_key: dict[str, Any] = {}
        keys = schema.get("x-kubernetes-list-map-keys") or []
        if has_old and schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            old_by_key = {_map_key(item, keys): item for item in old if isinstance(item, dict)}
        embedded = bool(items.get("x-kubernetes-embedded-resource"))
        for index, item in enumerate(value):
            key = _map_key(item, keys) if old_by_key and isinstance(item, dict) else None
            item_has_old = key is not None and key in old_by_key
            old_item = old_by_key.get(key) if key is not None else None
            self._walk(item, old_item, item_has_old, items, f"{path}[{index}]", errors, embedded)

    # -- one rule ---------------------------------------------------------------------

    def _evaluate(
        self,
        rule: _Rule,
        value: Any,
        old: Any,
        has_old: bool,
        schema: Schema,
        path: str,
        resource_root: bool,
    ) -> FieldError | None:
        compiled = rule.compiled
        type_name = schema.get("type", "")
        path = path or "<nil>"  # the API server's rendering of the resource root's nil path
        if compiled.program is None or compiled.errors:
            detail = "rule compile error: " + "\n".join(compiled.errors)
            return fe.invalid(path, type_name, detail)
        optional_old = bool(rule.spec.get("optionalOldSelf"))
        if compiled.uses_old_self and not has_old and not optional_old:
            return None
        variables: dict[str, Any] = {"self": to_cel(value, schema, resource_root)}
        if compiled.uses_old_self:
            old_value = to_cel(old, schema, resource_root) if has_old else None
            if optional_old:
                variables["oldSelf"] = (
                    cel.OptionalValue.of(old_value) if has_old else cel.OptionalValue.none()
                )
            else:
                variables["oldSelf"] = old_value
        rule_text = _rule_error_string(rule.spec)
        try:
            result = compiled.program.execute(cel.Context(variables, FUNCTIONS))
        except Exception as error:  # the engine raises builtin types for CEL runtime errors
            failure = runtime_error_text(error)
            if failure.startswith("no such overload"):
                detail = (
                    f"'{failure}': call arguments did not match a supported operator, "
                    f"function or macro signature for rule: {rule_text}"
                )
            else:
                detail = f"{failure} evaluating rule: {rule_text}"
            return fe.invalid(path, type_name, detail)
        if result is True:
            return None
        field_path = path
        if rule.spec.get("fieldPath"):
            field_path = _join_field_path(path, str(rule.spec["fieldPath"]))
        detail = self._message(rule, variables)
        shown: Any = OMIT if schema.get("type") in ("object", "array") else value
        reason = rule.spec.get("reason")
        if reason == fe.FORBIDDEN:
            return fe.forbidden(field_path, detail)
        if reason == fe.REQUIRED:
            return fe.required(field_path, detail)
        if reason == fe.DUPLICATE:
            return fe.duplicate(field_path, shown)
        return fe.invalid(field_path, shown, detail)

    def _message(self, rule: _Rule, variables: dict[str, Any]) -> str:
        if rule.message_program is not None:
            try:
                message = rule.message_program.execute(cel.Context(variables, FUNCTIONS))
            except Exception:  # a failing messageExpression falls back, as in Kubernetes
                message = None
            if isinstance(message, str) and message.strip() and "\n" not in message.strip():
                return message.strip()
        if rule.spec.get("message"):
            return str(rule.spec["message"]).strip()
        return f"failed rule: {_rule_error_string(rule.spec)}"


def _rule_error_string(spec: dict[str, Any]) -> str:
    return str(spec.get("message") or spec.get("rule", "")).strip()


def _join_field_path(path: str, field_path: str) -> str:
    """Append a rule's ``fieldPath`` (``.a.b``, ``['k']``) in Kubernetes' rendering."""
    rendered = re.sub(r"\['((?:\\.|[^'])*)'\]", lambda m: f"[{m.group(1)}]", field_path)
    rendered = rendered.lstrip(".")
    if path == "<nil>":
        return rendered
    return path + ("" if rendered.startswith("[") else ".") + rendered


def _map_key(item: Any, keys: list[str]) -> Any:
    if not isinstance(item, dict):
        return None
    return repr([item.get(k) for k in keys])


def runtime_error_text(error: Exception) -> str:
    """cel-go's wording for a runtime error raised by the engine."""
    if isinstance(error, KeyError):
        return f"no such key: {error.args[0] if error.args else ''}"
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, OverflowError):
        return "integer overflow"
    text = str(error)
    if isinstance(error, TypeError) and text.startswith(
        ("No such overload", "Unsupported operation")
    ):
        return "no such overload"
    callback = _FAILED_CALLBACK.search(text)
    if callback:
        return callback.group(1)
    return text


# -- values ---------------------------------------------------------------------------


def to_cel(value: Any, schema: Schema | None, resource_root: bool = False) -> Any:
    """Convert JSON data to the CEL value Kubernetes would expose for this schema."""
    if value is None or schema is None:
        return value
    if schema.get("x-kubernetes-int-or-string"):
        return value
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        return _object_to_cel(value, schema, resource_root)
    if kind == "array" and isinstance(value, list):
        items = schema.get("items")
        return [to_cel(item, items if isinstance(items, dict) else None) for item in value]
    if kind == "string" and isinstance(value, str):
        return _string_to_cel(value, schema.get("format"))
    if kind == "number" and isinstance(value, int | float):
        return float(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _object_to_cel(value: dict[str, Any], schema: Schema, resource_root: bool) -> dict[str, Any]:
    properties: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    embedded = resource_root or schema.get("x-kubernetes-embedded-resource")
    result: dict[str, Any] = {}
    for key, sub in value.items():
        if embedded and key in ("apiVersion", "kind"):
            result[key] = sub
        elif embedded and key == "metadata":
            result[key] = _object_to_cel(
                {k: v for k, v in (sub or {}).items() if k in ("name", "generateName")},
                _ROOT_META,
                False,
            )
        elif key in properties:
            name = escape_property(key)
            if name is not None:
                result[name] = to_cel(sub, properties[key])
        elif isinstance(additional, dict):
            result[key] = to_cel(sub, additional)
        else:
            result[key] = sub
    return result


def _string_to_cel(value: str, fmt: str | None) -> Any:
    if fmt == "date":
        return parse_date(value) or value
    if fmt in ("date-time", "datetime"):
        return parse_date_time(value) or value
    if fmt == "duration":
        seconds = _parse_duration(value)
        return value if seconds is None else dt.timedelta(seconds=seconds)
    if fmt == "byte":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
    return value


def _parse_duration(text: str) -> float | None:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if not body or _GO_DURATION.sub("", body):
        return None
    return sign * sum(float(n) * _DURATION_UNITS[unit] for n, unit in _GO_DURATION.findall(body))
