"""Merge patch (RFC 7386), JSON patch (RFC 6902) and a simplified strategic merge patch.

Strategic merge patch knows the merge keys of the built-in list fields our code and kubectl
touch (containers by name, env by name, conditions by type, ...) by field name, not by a full
schema; every other list is replaced. Directives handled: `$patch` (replace/delete/merge),
`$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` (order ignored).
"""

from __future__ import annotations

from typing import Any

from .copies import deep_copy
from .errors import ApiError

# List field name -> merge key, for lists of objects Kubernetes merges element-wise.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
# Lists of scalars merged as sets.
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})


def _invalid_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, `null` removes, anything else replaces.

    Neither argument is modified. The result shares the values the patch leaves alone with
    ``target`` (copy on write: only the dicts on the way to a change are new) and holds copies
    of the patch's values.
    """
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch -------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid_patch(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str], path: str, op: str) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise _invalid_patch(
                f"jsonpatch {op} operation does not apply: doc is missing path: {path}"
            )
    return cur


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1], path, op)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _invalid_patch(
                f"jsonpatch {op} operation does not apply: index out of range: {path}"
            )
    else:
        raise _invalid_patch(
            f"jsonpatch {op} operation does not apply: doc is missing path: {path}"
        )
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    parent = _resolve(doc, parts[:-1], path, op)
    last = parts[-1] if parts else ""
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return doc, parent.pop(int(last))
    raise _invalid_patch(f"jsonpatch {op} operation does not apply: doc is missing path: {path}")


def json_patch(target: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations to a copy of target."""
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = deep_copy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise ApiError(400, "BadRequest", f"invalid json patch operation: {operation!r}")
        op, path = operation["op"], operation.get("path", "")
        if op == "add":
            doc = _add(doc, path, deep_copy(operation.get("value")))
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            doc, _ = _remove(doc, path, "replace")
            doc = _add(doc, path, deep_copy(operation.get("value")), "replace")
        elif op == "move":
            doc, value = _remove(doc, operation.get("from", ""), "move")
            doc = _add(doc, path, value, "move")
        elif op == "copy":
            value = deep_copy(_resolve(doc, _pointer(operation.get("from", "")), path, "copy"))
            doc = _add(doc, path, value, "copy")
        elif op == "test":
            actual = _resolve(doc, _pointer(path), path, "test")
            if actual != operation.get("value"):
                raise _invalid_patch(f"testing value {path} failed: test failed")
        else:
            raise ApiError(400, "BadRequest", f"unexpected json patch operation {op!r}")
    return doc


# --- strategic merge patch ------------------------------------------------------------


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    if patch.get("$patch") == "replace":
        return {k: deep_copy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = deep_copy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = _strip_directives(deep_copy(value))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [
            _strip_directives(v)
            for v in value
            if not (isinstance(v, dict) and v.get("$patch") == "delete")
        ]
    return value


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if field in PRIMITIVE_MERGE_LISTS:
        return current + [v for v in patch if v not in current]
    key = MERGE_KEYS.get(field)
    if field == "ports":
        key = (
            "containerPort"
            if any(isinstance(p, dict) and "containerPort" in p for p in patch + current)
            else "port"
        )
    if key is None or not all(isinstance(p, dict) for p in patch):
        return _strip_directives(deep_copy(patch))  # type: ignore[no-any-return]
    result = deep_copy(current)
    for item in patch:
        ident = item.get(key)
        index = next(
            (i for i, cur in enumerate(result) if isinstance(cur, dict) and cur.get(key) == ident),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_strip_directives(deep_copy(item)))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result
