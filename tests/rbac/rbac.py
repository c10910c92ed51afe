"""A pure RBAC evaluator: rendered Roles, ClusterRoles and their bindings + a request → allowed?

It follows the Kubernetes RBAC authorizer (pkg/apis/rbac/v1/evaluation_helpers.go and
plugin/pkg/auth/authorizer/rbac):

* a ClusterRoleBinding grants its ClusterRole's rules everywhere: every namespace, cluster-scoped
  resources, requests across all namespaces, and non-resource URLs;
* a RoleBinding grants its Role's (or ClusterRole's) resource rules in its own namespace only;
* a rule matches when verb, API group, resource (``*``, ``resource/subresource`` exactly, or
  ``*/subresource``) and resource name (an empty list matches any, a non-empty list only a
  request that names one of them) all match; non-resource rules match a path exactly or by a
  trailing ``*`` prefix;
* subjects: a User by name, a Group by membership, a ServiceAccount as
  ``system:serviceaccount:<namespace>:<name>`` (namespace defaulting to the binding's);
* aggregated ClusterRoles take the rules of every ClusterRole their selectors match.

Inputs are plain manifests (dicts), e.g. from ``helm template``; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Manifest = Mapping[str, Any]
ALL = "*"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ("system:authenticated",)


@dataclass(frozen=True)
class Request:
    """The authorizer's attributes of one API request (Kubernetes' RequestInfo)."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""  # "" = cluster-scoped, or a list/watch across all namespaces
    name: str = ""
    path: str = ""  # non-resource requests only
    is_resource: bool = True

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        if not self.is_resource:
            return f"{self.verb} {self.path}"
        group = self.api_group or "core"
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        name = f" {self.name}" if self.name else ""
        return f"{self.verb} {group}/{self.combined_resource}{name}{where}"


@dataclass(frozen=True)
class PolicyRule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, rule: Manifest) -> PolicyRule:
        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(x) for x in rule.get(key) or ())

        return cls(
            verbs=strings("verbs"),
            api_groups=strings("apiGroups"),
            resources=strings("resources"),
            resource_names=strings("resourceNames"),
            non_resource_urls=strings("nonResourceURLs"),
        )

    def matches(self, request: Request) -> bool:
        if not _verb_matches(self, request.verb):
            return False
        if not request.is_resource:
            return _non_resource_url_matches(self, request.path)
        return (
            _api_group_matches(self, request.api_group)
            and _resource_matches(self, request.combined_resource, request.subresource)
            and _resource_name_matches(self, request.name)
        )


def _verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def _api_group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def _resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    for resource in rule.resources:
        if resource in (ALL, combined):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _resource_name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def _non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


@dataclass(frozen=True)
class Grant:
    """One rule given to a user by one binding; ``namespace`` None means cluster-wide."""

    rule: PolicyRule
    role: str  # "ClusterRole/x" or "Role/ns/x"
    binding: str
    namespace: str | None

    def allows(self, request: Request) -> bool:
        # RoleBindings never grant non-resource URLs, cluster-scoped or all-namespace access.
        in_scope = self.namespace is None or (
            request.is_resource and request.namespace == self.namespace
        )
        return in_scope and self.rule.matches(request)


def _key(manifest: Manifest) -> tuple[str, str, str]:
    meta = manifest.get("metadata") or {}
    return str(manifest.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def _selects(selector: Manifest, labels: Mapping[str, str]) -> bool:
    if selector.get("matchExpressions"):
        raise NotImplementedError("aggregationRule matchExpressions are not supported")
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _subject_applies(subject: Manifest, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name"))
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


class Policy:
    """The RBAC objects among ``manifests``; answers what a user may do."""

    def __init__(self, manifests: Iterable[Manifest]) -> None:
        objects = [m for m in manifests if m and m.get("kind")]
        self._roles: dict[tuple[str, str, str], Manifest] = {
            _key(m): m for m in objects if m["kind"] in ("Role", "ClusterRole")
        }
        self._bindings = [m for m in objects if m["kind"] in ("RoleBinding", "ClusterRoleBinding")]

    def rules_of(self, kind: str, namespace: str, name: str) -> list[PolicyRule]:
        role = self._roles.get((kind, namespace if kind == "Role" else "", name))
        if role is None:
            return []  # a binding to a missing role grants nothing (as in Kubernetes)
        rules = [PolicyRule.from_manifest(r) for r in role.get("rules") or ()]
        aggregation = role.get("aggregationRule")
        if kind == "ClusterRole" and aggregation:
            for (other_kind, _, other_name), other in self._roles.items():
                labels = (other.get("metadata") or {}).get("labels") or {}
                if (
                    other_kind == "ClusterRole"
                    and other_name != name
                    and any(
                        _selects(s, labels) for s in aggregation.get("clusterRoleSelectors") or ()
                    )
                ):
                    rules += [PolicyRule.from_manifest(r) for r in other.get("rules") or ()]
        return rules

    def grants_for(self, user: UserInfo) -> list[Grant]:
        grants: list[Grant] = []
        for binding in self._bindings:
            kind, namespace, name = _key(binding)
            if not any(_subject_applies(s, user, namespace) for s in binding.get("subjects") or ()):
                continue
            ref = binding["roleRef"]
            role_kind, role_name = str(ref["kind"]), str(ref["name"])
            if kind == "ClusterRoleBinding" and role_kind != "ClusterRole":
                continue  # invalid in Kubernetes: a ClusterRoleBinding may only name a ClusterRole
            scope = None if kind == "ClusterRoleBinding" else namespace
            role = f"{role_kind}/{namespace + '/' if role_kind == 'Role' else ''}{role_name}"
            for rule in self.rules_of(role_kind, namespace, role_name):
                grants.append(Grant(rule, role, f"{kind}/{name}", scope))
        return grants

    def authorize(self, user: UserInfo, request: Request) -> Grant | None:
        """The first grant that allows ``request``, or None (denied)."""
        return next((g for g in self.grants_for(user) if g.allows(request)), None)


@dataclass(frozen=True, order=True)
class Permission:
    """A granted or used (API group, resource[/subresource], verb) — the unit of the checks."""

    api_group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.api_group or 'core'}/{self.resource}"


def permissions_of(grants: Iterable[Grant]) -> set[Permission]:
    """Every (group, resource, verb) the resource rules of ``grants`` spell out."""
    return {
        Permission(group, resource, verb)
        for grant in grants
        for group in grant.rule.api_groups
        for resource in grant.rule.resources
        for verb in grant.rule.verbs
    }


def permission_of(request: Request) -> Permission:
    return Permission(request.api_group, request.combined_resource, request.verb)


CLUSTER_WIDE = ""  # the scope of a ClusterRoleBinding's grants and of a request with no namespace


@dataclass(frozen=True, order=True)
class ScopedPermission:
    """A Permission and where it holds: a namespace (a RoleBinding's grant, a request in that
    namespace) or CLUSTER_WIDE (a ClusterRoleBinding's grant: every namespace, cluster-scoped
    resources, lists and watches across all namespaces; a request with no namespace)."""

    scope: str
    permission: Permission

    def __str__(self) -> str:
        return f"{self.permission} {'cluster-wide' if not self.scope else 'in ' + self.scope}"


def scoped_permissions_of(grants: Iterable[Grant]) -> set[ScopedPermission]:
    """Every (scope, group, resource, verb) the resource rules of ``grants`` spell out."""
    return {
        ScopedPermission(grant.namespace or CLUSTER_WIDE, permission)
        for grant in grants
        for permission in permissions_of([grant])
    }


def scoped_permission_of(request: Request) -> ScopedPermission:
    return ScopedPermission(request.namespace, permission_of(request))
