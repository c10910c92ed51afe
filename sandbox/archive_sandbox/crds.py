"""CustomResourceDefinitions: registration, status, and admission of custom resources.

Validation, pruning and defaulting are delegated to `archive_sandbox.schema` (structural
schema + CEL). When that module is missing, custom resources are stored unvalidated.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from typing import TYPE_CHECKING, Any, Protocol

from . import errors as err
from .copies import deep_copy
from .meta import rfc3339
from .resources import CRD_STORAGE_KEY, ResourceType, resource_types_from_crd

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

try:  # the schema module is written separately; the server works (unvalidated) without it
    from . import schema as _schema_module
except ImportError:  # pragma: no cover - depends on the checkout
    _schema_module = None  # type: ignore[assignment]

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class _Schema(Protocol):
    def apply_defaults(self, obj: dict[str, Any], clean: Container[str] = ()) -> dict[str, Any]: ...
    def prune(
        self, obj: dict[str, Any], clean: Container[str] = ()
    ) -> tuple[dict[str, Any], list[str]]: ...
    def validate(
        self, obj: dict[str, Any], old: dict[str, Any] | None = None, clean: Container[str] = ()
    ) -> list[Any]: ...
    def clean_keys(self, obj: dict[str, Any]) -> frozenset[str]: ...
    def remember_admitted(self, admitted: dict[str, Any]) -> None: ...


def validation_available() -> bool:
    return _schema_module is not None


class CustomResources:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._schemas: dict[tuple[str, str], _Schema | None] = {}
        store.add_admission(CRD_STORAGE_KEY, self._admit_crd)

    # --- CRD lifecycle ----------------------------------------------------------------------

    def _admit_crd(
        self, operation: str, crd: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        name = crd["metadata"].get("name", "")
        problems: list[tuple[str, str, str]] = []
        expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
        if name != expected:
            problems.append(
                (
                    "FieldValueInvalid",
                    "metadata.name",
                    f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                )
            )
        if not spec.get("versions"):
            problems.append(
                (
                    "FieldValueRequired",
                    "spec.versions",
                    "Required value: must have exactly one version marked as storage version",
                )
            )
        elif sum(1 for v in spec["versions"] if v.get("storage")) != 1:
            problems.append(
                (
                    "FieldValueInvalid",
                    "spec.versions",
                    "Invalid value: must have exactly one version marked as storage version",
                )
            )
        if _schema_module is not None and not problems:
            for fe in _schema_module.validate_crd(crd):
                problems.append((fe.type, fe.field, fe.detail))
        if problems:
            raise err.invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, problems)
        crd = deep_copy(crd)
        names = crd["spec"]["names"]
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        crd["spec"].setdefault("scope", "Namespaced")
        crd["spec"].setdefault("conversion", {"strategy": "None"})
        if operation == "CREATE":
            fins = crd["metadata"].setdefault("finalizers", [])
            if CRD_CLEANUP_FINALIZER not in fins:
                fins.append(CRD_CLEANUP_FINALIZER)
        return crd

    def crd_stored(self, crd: dict[str, Any]) -> None:
        """Serve the CRD's versions and set its status, as the apiextensions controllers do."""
        name = crd["metadata"]["name"]
        self._schemas = {k: v for k, v in self._schemas.items() if k[0] != name}
        self.store.registry.remove_crd(name)
        for rt in resource_types_from_crd(crd):
            self.store.registry.add(rt)
        status = self._status(crd)
        if status != crd.get("status"):

            def set_status(obj: dict[str, Any]) -> None:
                obj["status"] = status

            self.store.force_update(CRD_STORAGE_KEY, crd, set_status)

    def crd_removed(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self.store.registry.remove_crd(name)
        self._schemas = {k: v for k, v in self._schemas.items() if k[0] != name}

    def _status(self, crd: dict[str, Any]) -> dict[str, Any]:
        now = rfc3339(self.store.now())
        old = {c["type"]: c for c in (crd.get("status") or {}).get("conditions", [])}
        spec = crd["spec"]

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
            prev = old.get(kind)
            since = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
            return {
                "type": kind,
                "status": status,
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        conditions = [
            condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
            condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            ),
        ]
        if crd["metadata"].get("deletionTimestamp"):
            conditions.append(
                condition(
                    "Terminating",
                    "True",
                    "InstanceDeletionInProgress",
                    "CustomResource deletion is in progress",
                )
            )
        storage = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
        stored = list((crd.get("status") or {}).get("storedVersions") or [])
        for version in storage:
            if version not in stored:
                stored.append(version)
        accepted = {k: v for k, v in spec["names"].items()}
        return {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}

    def crd_for(self, rt: ResourceType) -> dict[str, Any] | None:
        return self.store.peek(CRD_STORAGE_KEY, "", rt.crd_name) if rt.custom else None

    def version_spec(self, rt: ResourceType) -> dict[str, Any]:
        crd = self.crd_for(rt) or {}
        for version in (crd.get("spec") or {}).get("versions", []):
            if version.get("name") == rt.version:
                return dict(version)
        return {}

    # --- custom resource admission ------------------------------------------------------------

    def _schema(self, rt: ResourceType) -> _Schema | None:
        key = (rt.crd_name, rt.version)
        if key not in self._schemas:
            crd = self.crd_for(rt)
            schema: _Schema | None = None
            if _schema_module is not None and crd is not None:
                try:
                    schema = _schema_module.CRDSchema.from_crd(crd, rt.version)
                except Exception:
                    log.exception(
                        "cannot build the schema of %s %s; not validating", rt.crd_name, rt.version
                    )
            self._schemas[key] = schema
        return self._schemas[key]

    def admit(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        field_validation: str,
        warnings: list[str] | None,
    ) -> dict[str, Any]:
        """Prune unknown fields (per fieldValidation), apply defaults, validate (422)."""
        schema = self._schema(rt)
        if schema is None:
            return obj
        # Values the schema admitted before (shared with the stored object) skip the walks.
        clean = schema.clean_keys(obj)
        pruned, unknown = schema.prune(obj, clean)
        if unknown:
            if field_validation == "Strict":
                fields = ", ".join(f'unknown field "{p}"' for p in unknown)
                raise err.bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"strict decoding error: {fields}"
                )
            if field_validation != "Ignore" and warnings is not None:
                warnings.extend(f'unknown field "{p}"' for p in unknown)
        defaulted = schema.apply_defaults(pruned, clean)
        problems = schema.validate(defaulted, old, clean)
        if problems:
            name = obj["metadata"].get("name", "")
            raise err.invalid(
                rt.kind, rt.group, name, [(p.type, p.field, p.detail) for p in problems]
            )
        schema.remember_admitted(defaulted)
        return defaulted

    def admit_status(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        """Status writes: unknown status fields are pruned silently, the whole object validated."""
        return self.admit(rt, obj, old, "Ignore", None)
