"""CRD schema enforcement for the sandbox: defaulting, pruning, validation and CEL rules.

The API server's order for a write is: decode, prune unknown fields, apply defaults,
validate (OpenAPI, then list-type sets/maps, then CEL ``x-kubernetes-validations``).
The server module drives that order; this module only knows one CRD version's schema::

    schema = CRDSchema.from_crd(crd, "v1alpha1")
    obj, unknown = schema.prune(body)
    obj = schema.apply_defaults(obj)
    errors = schema.validate(obj, old=stored_or_None)
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from . import schema_errors as fe
from .cel_rules import RuleSet
from .schema_crd import validate_crd
from .schema_defaults import apply_defaults as _apply_defaults
from .schema_defaults import prune as _prune
from .schema_errors import FieldError
from .schema_validate import OpenAPIValidator, validate_list_types

__all__ = ["CRDSchema", "FieldError", "SchemaNotFound", "validate_crd"]

# Error types after which the API server skips CEL rules (hasBlockingErr).
_RESOURCE_META = frozenset({"apiVersion", "kind", "metadata"})
_BLOCKING = frozenset({fe.NOT_SUPPORTED, fe.REQUIRED, fe.TOO_LONG, fe.TOO_MANY, fe.TYPE_INVALID})
_SKIPPED_RULES = FieldError(
    fe.INVALID,
    "<nil>",
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
)


class SchemaNotFound(ValueError):
    """The CRD has no such version, or the version has no openAPIV3Schema."""


class CRDSchema:
    """The structural schema of one version of a CRD, with its compiled CEL rules."""

    def __init__(self, schema: dict[str, Any], remember: int = 8192) -> None:
        self.schema = schema
        self._rules = RuleSet(schema)
        # Top-level values (spec, status, ...) this schema admitted unchanged: (property, id)
        # -> value. Stored objects are never mutated and a write shares the values it leaves
        # alone, so meeting one again means it is still pruned, defaulted and valid; holding
        # it keeps its id unique. Oldest first, at most `remember`.
        self._admitted: dict[tuple[str, int], Any] = {}
        self._remember = remember

    @classmethod
    def from_crd(cls, crd: dict[str, Any], version: str) -> CRDSchema:
        for entry in (crd.get("spec") or {}).get("versions") or []:
            if entry.get("name") == version:
                schema = (entry.get("schema") or {}).get("openAPIV3Schema")
                if not isinstance(schema, dict):
                    raise SchemaNotFound(f"version {version!r} has no schema.openAPIV3Schema")
                return cls(schema)
        name = (crd.get("metadata") or {}).get("name", "?")
        raise SchemaNotFound(f"CRD {name} has no version {version!r}")

    def apply_defaults(self, obj: dict[str, Any], clean: Container[str] = ()) -> dict[str, Any]:
        """``obj`` with defaults applied, sharing unchanged values (also for stored objects)."""
        return _apply_defaults(obj, self.schema, clean)

    def prune(
        self, obj: dict[str, Any], clean: Container[str] = ()
    ) -> tuple[dict[str, Any], list[str]]:
        """``obj`` without unknown fields (sharing the rest), and the paths removed."""
        return _prune(obj, self.schema, clean)

    def validate(
        self, obj: dict[str, Any], old: dict[str, Any] | None = None, clean: Container[str] = ()
    ) -> list[FieldError]:
        """All validation errors of ``obj`` (already pruned and defaulted).

        ``old`` is the stored object on update; it enables CEL transition rules. ``clean``:
        top-level properties known to pass the OpenAPI and list-type checks (`clean_keys`);
        CEL rules still see every value (they may compare values across the object).
        """
        errors = OpenAPIValidator(self.schema).run(obj, clean)
        errors += validate_list_types(obj, self.schema, clean=clean)
        if self._rules.empty:
            return errors
        if any(error.type in _BLOCKING for error in errors):
            return [*errors, _SKIPPED_RULES]
        old_defaulted = self.apply_defaults(old, self.clean_keys(old)) if old is not None else None
        return errors + self._rules.validate(obj, old_defaulted)

    def clean_keys(self, obj: dict[str, Any]) -> frozenset[str]:
        """The top-level properties of ``obj`` whose values this schema admitted as they are:
        pruning, defaulting and the OpenAPI checks would change and report nothing there."""
        return frozenset(
            key
            for key, value in obj.items()
            if self._admitted.get((key, id(value))) is value and value is not None
        )

    def remember_admitted(self, admitted: dict[str, Any]) -> None:
        """Note the top-level values of an object that was pruned, defaulted and passed
        validation. Both steps are idempotent (a CRD's defaults hold no unknown fields:
        `validate_crd`), so pruning and defaulting these values again changes nothing."""
        properties = self.schema.get("properties") or {}
        for key, value in admitted.items():
            if key not in _RESOURCE_META and key in properties and isinstance(value, dict | list):
                self._admitted[(key, id(value))] = value
        while len(self._admitted) > self._remember:
            del self._admitted[next(iter(self._admitted))]
