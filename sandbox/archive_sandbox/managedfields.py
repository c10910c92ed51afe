"""Field ownership (`metadata.managedFields`) and a simplified server-side apply.

Simplifications (sandbox/README.md): lists are atomic except the built-in keyed lists that
strategic merge patch knows (containers by name, env by name, ...); CRD list-type annotations
are not consulted. Only labels, annotations, finalizers and ownerReferences of metadata are
tracked. Conflicts are detected on leaf fields whose values differ.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import ApiError
from .patch import MERGE_KEYS

Path = tuple[str, ...]  # elements like "f:spec", "k:{\"name\":\"x\"}"
TRACKED_META = ("labels", "annotations", "finalizers", "ownerReferences")
CLIENT_SIDE_APPLY = "kubectl-client-side-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _list_key(field: str, items: list[Any]) -> str | None:
    key = MERGE_KEYS.get(field)
    if key and items and all(isinstance(i, dict) and key in i for i in items):
        return key
    return None


def _key_token(key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))


def leaf_values(obj: dict[str, Any], *, skip_status: bool) -> dict[Path, Any]:
    """Map every owned leaf path of an object to its value."""
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path, field: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, (*path, f"f:{k}"), k)
        elif isinstance(value, list) and (key := _list_key(field, value)):
            for item in value:
                item_path = (*path, _key_token(key, item))
                out[(*item_path, ".")] = None
                for k, v in item.items():
                    walk(v, (*item_path, f"f:{k}"), k)
        else:
            out[path] = value

    for top, value in obj.items():
        if top in ("apiVersion", "kind") or (top == "status" and skip_status):
            continue
        if top == "metadata":
            for k in TRACKED_META:
                if k in (value or {}):
                    walk(value[k], ("f:metadata", f"f:{k}"), k)
        else:
            walk(value, (f"f:{top}",), top)
    return out


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def from_fields_v1(tree: dict[str, Any]) -> set[Path]:
    out: set[Path] = set()

    def walk(node: dict[str, Any], path: Path) -> None:
        if not node:
            out.add(path)
            return
        for k, v in node.items():
            walk(v if isinstance(v, dict) else {}, (*path, k))

    walk(tree, ())
    out.discard(())
    return out


def _entry_paths(entry: dict[str, Any]) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _entry(
    manager: str,
    operation: str,
    api_version: str,
    now: str,
    paths: set[Path],
    sub: str | None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A manager's entry; it keeps the time of its ``previous`` entry when its field set and API
    version are unchanged, as Kubernetes does, so that a write changing nothing is a no-op
    (no new resourceVersion) even when the clock has moved on."""
    if (
        previous is not None
        and previous.get("apiVersion") == api_version
        and _entry_paths(previous) == paths
        and previous.get("time")
    ):
        now = str(previous["time"])
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if sub:
        entry["subresource"] = sub
    return entry


def _same_entry(entry: dict[str, Any], manager: str, operation: str, sub: str | None) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource") == sub
    )


def record_update(
    managed: list[dict[str, Any]],
    manager: str,
    api_version: str,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    now: str,
    subresource: str | None = None,
    operation: str = "Update",
) -> list[dict[str, Any]]:
    """New managedFields after `manager` changed `old` into `new` by an update or patch."""
    before = leaf_values(old, skip_status=False) if old else {}
    after = leaf_values(new, skip_status=False)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    out: list[dict[str, Any]] = []
    mine: set[Path] = set()
    previous: dict[str, Any] | None = None
    for entry in managed:
        paths = _entry_paths(entry) - removed
        if _same_entry(entry, manager, operation, subresource):
            mine, previous = paths, entry
            continue
        paths -= changed
        if paths:
            out.append({**entry, "fieldsV1": to_fields_v1(paths)})
    mine |= changed
    if mine:
        out.append(_entry(manager, operation, api_version, now, mine, subresource, previous))
    return out


def _merge_applied(live: Any, config: Any, field: str = "") -> Any:
    if isinstance(config, dict) and isinstance(live, dict):
        result = copy.deepcopy(live)
        for k, v in config.items():
            result[k] = _merge_applied(live.get(k), v, k)
        return result
    if isinstance(config, list) and isinstance(live, list) and (key := _list_key(field, config)):
        result_list = copy.deepcopy(live)
        for item in config:
            idx = next(
                (
                    i
                    for i, c in enumerate(result_list)
                    if isinstance(c, dict) and c.get(key) == item[key]
                ),
                None,
            )
            if idx is None:
                result_list.append(copy.deepcopy(item))
            else:
                result_list[idx] = _merge_applied(result_list[idx], item, "")
        return result_list
    return copy.deepcopy(config)


def _remove_path(obj: dict[str, Any], path: Path) -> None:
    """Delete the field at `path` and prune maps it leaves empty (never top-level ones)."""
    if path and path[-1] == ".":
        path = path[:-1]
    trail: list[tuple[Any, Any]] = []
    node: Any = obj
    for part in path:
        kind, _, name = part.partition(":")
        if kind == "f" and isinstance(node, dict) and name in node:
            trail.append((node, name))
            node = node[name]
        elif kind == "k" and isinstance(node, list):
            want = json.loads(name)
            idx = next(
                (
                    i
                    for i, it in enumerate(node)
                    if isinstance(it, dict) and all(it.get(k) == v for k, v in want.items())
                ),
                None,
            )
            if idx is None:
                return
            trail.append((node, idx))
            node = node[idx]
        else:
            return
    while trail:
        parent, at = trail.pop()
        del parent[at]
        if parent or len(trail) < 2:
            break


def server_side_apply(
    live: dict[str, Any],
    config: dict[str, Any],
    managed: list[dict[str, Any]],
    manager: str,
    api_version: str,
    now: str,
    *,
    force: bool,
    subresource: str | None = None,
    skip_status: bool = True,
    last_applied: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Merge an applied configuration into the live object; returns (object, managedFields).

    Fields this manager applied before and no longer applies are removed unless another
    manager owns them. Differing values owned by other managers are conflicts (409) unless
    `force`, which takes them over. As in Kubernetes, conflicts with `kubectl` client-side
    apply on fields of its last-applied configuration are not conflicts (the upgrade path
    from `kubectl apply` to `kubectl apply --server-side`).
    """
    applied = leaf_values(config, skip_status=skip_status)
    live_values = leaf_values(live, skip_status=False)
    upgradable = set(leaf_values(last_applied, skip_status=False)) if last_applied else set()
    conflicts: list[tuple[str, str, Path]] = []
    for entry in managed:
        if _same_entry(entry, manager, "Apply", subresource):
            continue
        for path in _entry_paths(entry) & set(applied):
            if path in live_values and live_values[path] != applied[path]:
                if entry.get("manager") == CLIENT_SIDE_APPLY and path in upgradable:
                    continue
                conflicts.append((entry.get("manager", ""), entry.get("apiVersion", ""), path))
    if conflicts and not force:
        lines = [f'conflict with "{m}" using {v}: {_dotted(p)}' for m, v, p in conflicts]
        count = len(conflicts)
        noun = "conflict" if count == 1 else "conflicts"
        message = f"Apply failed with {count} {noun}: " + "\n".join(lines)
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f'conflict with "{m}" using {v}',
                "field": _dotted(p),
            }
            for m, v, p in conflicts
        ]
        raise ApiError(409, "Conflict", message, causes=causes)
    previous: set[Path] = set()
    previous_entry: dict[str, Any] | None = None
    others: set[Path] = set()
    out: list[dict[str, Any]] = []
    for entry in managed:
        paths = _entry_paths(entry)
        if _same_entry(entry, manager, "Apply", subresource):
            previous, previous_entry = paths, entry
            continue
        if force or entry.get("manager") == CLIENT_SIDE_APPLY:
            paths -= set(applied) if force else set(applied) & upgradable
        others |= paths
        if paths:
            out.append({**entry, "fieldsV1": to_fields_v1(paths)})
    result = _merge_applied(
        live, {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
    )
    for path in sorted(previous - set(applied) - others, key=lambda p: (p[-1] != ".", len(p))):
        if not any(o[: len(path)] == path for o in others):
            _remove_path(result, path)
    if applied:
        entry = _entry(
            manager, "Apply", api_version, now, set(applied), subresource, previous_entry
        )
        out.append(entry)
    return result, out


def _dotted(path: Path) -> str:
    parts = []
    for p in path:
        kind, _, name = p.partition(":")
        parts.append(f".{name}" if kind == "f" else f"[{name}]")
    return "".join(parts)
