"""Registration-time checks of a CRD's schemas: structural rules, defaults, CEL rules.

Mirrors the parts of apiextensions' CRD validation a CRD author meets in practice
(``ValidateStructural``, default validation, ``x-kubernetes-validations`` compilation);
field paths are those of the CRD object (``spec.versions[0].schema.openAPIV3Schema...``).
"""

from __future__ import annotations

from typing import Any

from . import schema_errors as fe
from .cel_compile import compile_rule
from .cel_rules import RuleSet
from .schema_defaults import prune
from .schema_errors import FieldError, go_quote
from .schema_validate import OpenAPIValidator

Schema = dict[str, Any]

_TYPES = ("object", "array", "string", "integer", "number", "boolean")
_REASONS = ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"]


def validate_crd(crd: dict[str, Any]) -> list[FieldError]:
    """Errors the API server would report when this CRD is created or updated."""
    errors: list[FieldError] = []
    for index, version in enumerate((crd.get("spec") or {}).get("versions") or []):
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            continue
        path = f"spec.versions[{index}].schema.openAPIV3Schema"
        _SchemaChecker(errors).check(schema, path, level="root", correlatable=True)
    return errors


class _SchemaChecker:
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors

    def check(self, schema: Schema, path: str, level: str, correlatable: bool) -> None:
        self._check_type(schema, path, level)
        self._check_shape(schema, path)
        self._check_list_type(schema, path)
        self._check_default(schema, path)
        self._check_rules(schema, path, level == "root", correlatable)
        if level == "root" or schema.get("x-kubernetes-embedded-resource"):
            self._check_metadata(schema, path)
        for name, sub in (schema.get("properties") or {}).items():
            self.check(sub, f"{path}.properties[{name}]", "field", correlatable)
        items = schema.get("items")
        if isinstance(items, dict):
            item_correlatable = correlatable and schema.get("x-kubernetes-list-type") == "map"
            self.check(items, f"{path}.items", "item", item_correlatable)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            map_correlatable = correlatable and schema.get("x-kubernetes-map-type") != "atomic"
            self.check(additional, f"{path}.additionalProperties", "field", map_correlatable)

    def _check_type(self, schema: Schema, path: str, level: str) -> None:
        kind = schema.get("type", "")
        if schema.get("x-kubernetes-embedded-resource") and kind != "object":
            detail = "must be object if x-kubernetes-embedded-resource is true"
            if kind:
                self.errors.append(fe.invalid(f"{path}.type", kind, detail))
            else:
                self.errors.append(fe.required(f"{path}.type", detail))
        elif not kind and not (
            schema.get("x-kubernetes-int-or-string")
            or schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            detail = {
                "root": "must not be empty at the root",
                "item": "must not be empty for specified array items",
                "field": "must not be empty for specified object fields",
            }[level]
            self.errors.append(fe.required(f"{path}.type", detail))
        elif kind and kind not in _TYPES:
            self.errors.append(fe.not_supported(f"{path}.type", kind, list(_TYPES)))
        if level == "root" and kind and kind != "object":
            self.errors.append(fe.invalid(f"{path}.type", kind, "must be object at the root"))

    def _check_shape(self, schema: Schema, path: str) -> None:
        if "$ref" in schema:
            self.errors.append(fe.forbidden(f"{path}.$ref", "$ref is not supported"))
        additional = schema.get("additionalProperties")
        if additional is False:
            self.errors.append(
                fe.forbidden(
                    f"{path}.additionalProperties", "additionalProperties cannot be set to false"
                )
            )
        if schema.get("properties") and additional is not None:
            self.errors.append(
                fe.forbidden(
                    f"{path}.additionalProperties",
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        if schema.get("type") == "array" and not isinstance(schema.get("items"), dict):
            self.errors.append(fe.required(f"{path}.items", "must be specified"))
        if schema.get("uniqueItems") is True:
            self.errors.append(
                fe.forbidden(
                    f"{path}.uniqueItems",
                    "uniqueItems cannot be set to true since the runtime complexity "
                    "becomes quadratic",
                )
            )

    def _check_list_type(self, schema: Schema, path: str) -> None:
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        if list_type is not None and list_type not in ("atomic", "set", "map"):
            self.errors.append(
                fe.not_supported(
                    f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]
                )
            )
        if keys and list_type != "map":
            self.errors.append(
                fe.invalid(
                    f"{path}.x-kubernetes-list-type",
                    list_type or "",
                    "must be map if x-kubernetes-list-map-keys is non-empty",
                )
            )
        if list_type == "map":
            if not keys:
                self.errors.append(
                    fe.required(
                        f"{path}.x-kubernetes-list-map-keys",
                        "must not be empty if x-kubernetes-list-type is map",
                    )
                )
            item_props = (schema.get("items") or {}).get("properties") or {}
            if any(key not in item_props for key in keys):
                self.errors.append(
                    fe.invalid(
                        f"{path}.x-kubernetes-list-map-keys",
                        keys,
                        "entries must all be names of item properties",
                    )
                )

    def _check_default(self, schema: Schema, path: str) -> None:
        if "default" not in schema:
            return
        default = schema["default"]
        if default is None and not schema.get("nullable"):
            self.errors.append(
                fe.forbidden(f"{path}.default", "must not be null for non-nullable schemas")
            )
            return
        wrapper = {"type": "object", "properties": {"default": schema}}
        pruned, removed = prune({"default": default}, wrapper)
        for field_path in removed:
            self.errors.append(
                fe.invalid(f"{path}.{field_path}", fe.OMIT, "must not have unknown fields")
            )
        schema_errors = OpenAPIValidator(wrapper).run(pruned)
        for error in schema_errors:
            detail = error.detail.replace(f"{error.field} in body", "in body")
            self.errors.append(fe.FieldError(error.type, f"{path}.{error.field}", detail))
        if not schema_errors and "default" in pruned:
            self._check_default_rules(schema, path, pruned["default"])

    def _check_default_rules(self, schema: Schema, path: str, default: Any) -> None:
        """A default must pass the CEL rules at and below it, as it is — the defaults of its own
        fields are not applied first (so `self.x` on a default `{}` fails: "no such key")."""
        rules = RuleSet(schema)
        if rules.empty:
            return
        for error in rules.validate(default, None):
            if "rule compile error" in error.detail:
                continue  # reported by _check_rules
            field = error.field.removeprefix("<nil>").lstrip(".")
            where = f"{path}.default" + (f".{field}" if field else "")
            self.errors.append(fe.FieldError(error.type, where, error.detail))

    def _check_rules(self, schema: Schema, path: str, root: bool, correlatable: bool) -> None:
        for index, rule in enumerate(schema.get("x-kubernetes-validations") or []):
            rule_path = f"{path}.x-kubernetes-validations[{index}]"
            source = rule.get("rule", "")
            if not str(source).strip():
                self.errors.append(fe.required(f"{rule_path}.rule", "rule is not specified"))
                continue
            compiled = compile_rule(source, schema, root)
            if compiled.errors:
                detail = "compilation failed: " + "\n".join(
                    e.replace("\n| ", "\n | ") for e in compiled.errors
                )
                self.errors.append(fe.invalid(f"{rule_path}.rule", _GoRule(rule), detail))
                continue
            if compiled.uses_old_self and not correlatable:
                detail = (
                    "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                    + path
                )
                self.errors.append(fe.invalid(f"{rule_path}.rule", source, detail))
            if rule.get("optionalOldSelf") and not compiled.uses_old_self:
                self.errors.append(
                    fe.forbidden(
                        f"{rule_path}.optionalOldSelf",
                        "may not be set if oldSelf is not used in rule",
                    )
                )
            if rule.get("reason") is not None and rule["reason"] not in _REASONS:
                self.errors.append(
                    fe.not_supported(f"{rule_path}.reason", rule["reason"], _REASONS)
                )
            expression = rule.get("messageExpression")
            if expression:
                message = compile_rule(expression, schema, root)
                if message.errors:
                    detail = "messageExpression compilation failed: " + "\n".join(message.errors)
                    self.errors.append(
                        fe.invalid(f"{rule_path}.messageExpression", expression, detail)
                    )
            field_path = rule.get("fieldPath")
            if field_path and not _valid_field_path(field_path, schema):
                self.errors.append(
                    fe.invalid(
                        f"{rule_path}.fieldPath", field_path, "fieldPath must be a valid path"
                    )
                )

    def _check_metadata(self, schema: Schema, path: str) -> None:
        metadata = (schema.get("properties") or {}).get("metadata")
        if not isinstance(metadata, dict):
            return
        extra = set(metadata) - {"type", "properties", "description"}
        extra_props = set(metadata.get("properties") or {}) - {"name", "generateName"}
        if extra or extra_props:
            self.errors.append(
                fe.forbidden(
                    f"{path}.properties[metadata]",
                    "must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                )
            )


class _GoRule:
    """Renders a rule like Go's %#v of apiextensions.ValidationRule (used in compile errors)."""

    def __init__(self, rule: dict[str, Any]) -> None:
        self.rule = rule

    def __str__(self) -> str:
        rule = self.rule
        reason = rule.get("reason")
        optional = rule.get("optionalOldSelf")
        return (
            "apiextensions.ValidationRule{"
            f"Rule:{go_quote(rule.get('rule', ''))}, "
            f"Message:{go_quote(rule.get('message', ''))}, "
            f"MessageExpression:{go_quote(rule.get('messageExpression', ''))}, "
            "Reason:(*apiextensions.FieldValueErrorReason)"
            + ("(nil)" if reason is None else "(0xc000000000)")
            + f", FieldPath:{go_quote(rule.get('fieldPath', ''))}, "
            "OptionalOldSelf:(*bool)" + ("(nil)" if optional is None else "(0xc000000000)") + "}"
        )


def _valid_field_path(field_path: str, schema: Schema) -> bool:
    """``.a.b`` / ``['k']`` paths naming properties (or map keys) of the schema."""
    import re

    tokens = re.findall(r"\.([^.\[\]]+)|\['((?:\\.|[^'])*)'\]|(.)", field_path)
    current: Schema | None = schema
    for dotted, quoted, junk in tokens:
        if junk or current is None:
            return False
        name = dotted or quoted
        properties = current.get("properties")
        additional = current.get("additionalProperties")
        if properties is not None:
            current = properties.get(name)
        elif isinstance(additional, dict):
            current = additional
        else:
            return False
    return current is not None and bool(tokens)
