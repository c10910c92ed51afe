"""Pure reconcile decisions: desired CronJobs vs the ones that exist → what to change.

Steps, kubebuilder style:
1. Keep only the existing CronJobs this ArchiveSchedule controls (ownerReference uid).
2. A desired CronJob that does not exist is created.
3. One that exists but drifted (edited by hand, or the spec changed) is replaced.
4. One that exists and is not desired any more (entry removed) is deleted.
Anything else is left alone, so a resync with no change makes no write request.

Drift means: a field the operator sets differs, or a field it manages but leaves unset (such as
startingDeadlineSeconds) was set. Fields the API server fills in with defaults are ignored.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Manifest = dict[str, Any]

# CronJob spec fields the operator owns even when it leaves them out.
MANAGED_OPTIONAL_SPEC_FIELDS = ("startingDeadlineSeconds",)

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity as a number ("500m" == "0.5", "1Gi" == "1024Mi"); None if not one."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        if suffix not in _SUFFIXES:
            return None
        return Decimal(number) * _SUFFIXES[suffix]
    except InvalidOperation:
        return None


def _same_quantity(desired: object, actual: object) -> bool:
    left, right = parse_quantity(desired), parse_quantity(actual)
    return left is not None and left == right


def contains(desired: Any, actual: Any, path: tuple[str, ...] = ()) -> bool:
    """True if every field set in ``desired`` has the same value in ``actual``."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(
            key in actual and contains(value, actual[key], (*path, key))
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(contains(d, a, path) for d, a in zip(desired, actual, strict=True))
    if len(path) >= 2 and path[-2] in ("requests", "limits"):
        return desired == actual or _same_quantity(desired, actual)
    return bool(desired == actual and type(desired) is type(actual))


def is_controlled_by(obj: Manifest, owner_uid: str) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("controller") and ref.get("uid") == owner_uid for ref in refs)


def drifted(desired: Manifest, actual: Manifest) -> bool:
    want_meta, have_meta = desired["metadata"], actual.get("metadata", {})
    for key in ("labels", "annotations", "ownerReferences"):
        if key in want_meta and not contains(want_meta[key], have_meta.get(key) or {}):
            if key != "ownerReferences":
                return True
            have_refs = have_meta.get(key) or []
            if not all(any(contains(w, h) for h in have_refs) for w in want_meta[key]):
                return True
    have_spec = actual.get("spec") or {}
    if not contains(desired["spec"], have_spec):
        return True
    return any(
        name in have_spec and name not in desired["spec"] for name in MANAGED_OPTIONAL_SPEC_FIELDS
    )


@dataclass(frozen=True)
class Plan:
    create: list[Manifest] = field(default_factory=list)
    update: list[Manifest] = field(default_factory=list)  # request bodies for a replace (PUT)
    delete: list[Manifest] = field(default_factory=list)  # the existing objects
    unchanged: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


def replacement(desired: Manifest, actual: Manifest) -> Manifest:
    """The body that replaces ``actual`` with ``desired``.

    Keeps the identity and concurrency fields of the existing object (resourceVersion, so a
    concurrent change gives 409 instead of being overwritten) and any labels, annotations and
    non-controller owner references others added.
    """
    body = copy.deepcopy(desired)
    have = actual.get("metadata", {})
    meta = body["metadata"]
    meta["labels"] = {**(have.get("labels") or {}), **meta.get("labels", {})}
    meta["annotations"] = {**(have.get("annotations") or {}), **meta.get("annotations", {})}
    others = [r for r in have.get("ownerReferences") or [] if not r.get("controller")]
    meta["ownerReferences"] = others + meta.get("ownerReferences", [])
    for key in ("resourceVersion", "uid", "finalizers"):
        if key in have:
            meta[key] = have[key]
    return body


def plan_cronjobs(desired: list[Manifest], actual: list[Manifest], owner_uid: str) -> Plan:
    owned = {
        obj["metadata"]["name"]: obj for obj in actual if is_controlled_by(obj, owner_uid)
    }  # step 1
    result = Plan()
    wanted = set()
    for manifest in desired:
        name = manifest["metadata"]["name"]
        wanted.add(name)
        existing = owned.get(name)
        if existing is None:
            result.create.append(manifest)  # step 2
        elif drifted(manifest, existing):
            result.update.append(replacement(manifest, existing))  # step 3
        else:
            result.unchanged.append(name)
    result.delete.extend(obj for name, obj in sorted(owned.items()) if name not in wanted)  # 4
    return result
