"""Label and field selectors, parsed once per request and matched against stored objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # "!=" and "notin" match objects that lack the label, as in Kubernetes.
        return not present or value not in self.values


_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise bad_request(f"unable to parse requirement: invalid label selector: {text!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h` (Kubernetes label selector syntax)."""
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail(why: str) -> Exception:
        return bad_request(f"unable to parse requirement: {why} in label selector {text!r}")

    while i < len(toks):
        if toks[i] == "!":
            if i + 1 >= len(toks):
                raise fail("missing key after '!'")
            reqs.append(Requirement(toks[i + 1], "!exists"))
            i += 2
        else:
            key = toks[i]
            i += 1
            op = toks[i] if i < len(toks) else ","
            if op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                if i + 1 >= len(toks) or toks[i + 1] == ",":
                    value = ""
                    i += 1
                else:
                    value = toks[i + 1]
                    i += 2
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("in", "notin"):
                if i + 1 >= len(toks) or toks[i + 1] != "(":
                    raise fail(f"expected '(' after {op!r}")
                i += 2
                values: list[str] = []
                while i < len(toks) and toks[i] != ")":
                    if toks[i] != ",":
                        values.append(toks[i])
                    i += 1
                if i >= len(toks):
                    raise fail("missing ')'")
                i += 1
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise fail(f"unexpected {op!r} after key {key!r}")
        if i < len(toks):
            if toks[i] != ",":
                raise fail(f"expected ',' but found {toks[i]!r}")
            i += 1
    return reqs


def indexed_requirements(text: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """The ``key=value`` / ``key in (...)`` requirements: a label index can answer them, so a
    LIST need not look at objects lacking one of those labels."""
    return [(r.key, r.values) for r in parse_label_selector(text) if r.op in ("=", "in")]


def label_matcher(text: str | None) -> Matcher | None:
    reqs = parse_label_selector(text)
    if not reqs:
        return None

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """Parse `a.b=x,c!=y` into (path, op, value) triples; `==` means `=`."""
    if not text or not text.strip():
        return []
    out: list[tuple[str, str, str]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([^=!]+)(==|=|!=)(.*)", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        op = "!=" if m.group(2) == "!=" else "="
        out.append((m.group(1).strip(), op, m.group(3).strip()))
    return out


def field_matcher(text: str | None) -> Matcher | None:
    """Any dotted path is accepted (Kubernetes allows only a per-resource list; see README)."""
    reqs = parse_field_selector(text)
    if not reqs:
        return None

    def match(obj: dict[str, Any]) -> bool:
        for path, op, value in reqs:
            actual = _field_value(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True

    return match


def field_selector_name(text: str | None) -> str | None:
    """The name a `metadata.name=X` field selector pins, to answer it from the index."""
    for path, op, value in parse_field_selector(text):
        if path == "metadata.name" and op == "=":
            return value
    return None
