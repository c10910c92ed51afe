"""The OData query options the stand-in understands on events (pure).

From "Get singleValueLegacyExtendedProperty" (Graph v1.0): events are filtered with
  $filter=singleValueExtendedProperties/Any(ep: ep/id eq '{id}' and ep/value eq '{value}')
(also `ne`, contains(ep/value, '...'), startswith(ep/value, '...')), and one event or a list is
expanded with $expand=singleValueExtendedProperties($filter=id eq '{id}').
Matching the Name part of an id is case-sensitive; matching value is case-insensitive.
Also: simple `prop eq 'text'` clauses joined by `and` (e.g. iCalUId, subject, type).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


class BadQuery(ValueError):
    pass


def property_key(prop_id: str) -> str:
    """A comparable key for an extended-property id: "{Type} {GUID} Name {Name}" / "... Id 0x..".

    The type, the GUID and the Name/Id keyword compare case-insensitively; the name itself
    case-sensitively (as documented)."""
    m = re.match(r"^\s*(\S+)\s+(\{[^}]*\})\s+(name|id)\s+(.+?)\s*$", prop_id, re.IGNORECASE)
    if not m:
        return prop_id
    kind, guid, keyword, name = m.groups()
    name = name if keyword.lower() == "name" else name.lower()
    return f"{kind.lower()} {guid.lower()} {keyword.lower()} {name}"


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


_STR = r"'(?:[^']|'')*'"
_ANY = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(.*)\)$", re.IGNORECASE | re.DOTALL
)
_ID_EQ = r"{v}/id\s+eq\s+(" + _STR + r")"
_VALUE_OPS = [
    (r"{v}/value\s+eq\s+(" + _STR + r")", "eq"),
    (r"{v}/value\s+ne\s+(" + _STR + r")", "ne"),
    (r"contains\(\s*{v}/value\s*,\s*(" + _STR + r")\s*\)", "contains"),
    (r"startswith\(\s*{v}/value\s*,\s*(" + _STR + r")\s*\)", "startswith"),
]
_SIMPLE = re.compile(rf"^([A-Za-z][\w/]*)\s+(eq|ne)\s+({_STR}|true|false|null)$", re.IGNORECASE)


def _split_and(text: str) -> list[str]:
    """Split on top-level ` and ` (outside quotes and parentheses)."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if c == "'":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and text[i : i + 5].lower() == " and ":
            parts.append(text[start:i].strip())
            start = i + 5
            i += 4
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _any_predicate(var: str, body: str) -> Predicate:
    clauses = _split_and(body.strip())
    v = re.escape(var)
    wanted_id: str | None = None
    value_tests: list[Callable[[str], bool]] = []
    for clause in clauses:
        m = re.fullmatch(_ID_EQ.format(v=v), clause, re.IGNORECASE)
        if m:
            wanted_id = property_key(_unquote(m.group(1)))
            continue
        for pattern, op in _VALUE_OPS:
            m = re.fullmatch(pattern.format(v=v), clause, re.IGNORECASE)
            if m:
                value_tests.append(_value_test(op, _unquote(m.group(1)).lower()))
                break
        else:
            raise BadQuery(f"unsupported clause in Any(): {clause!r}")
    if wanted_id is None:
        raise BadQuery("an extended-property filter needs an `id eq '...'` clause")

    def predicate(event: Event) -> bool:
        for prop in event.get("singleValueExtendedProperties") or []:
            if property_key(str(prop.get("id", ""))) != wanted_id:
                continue
            value = str(prop.get("value", "")).lower()
            if all(test(value) for test in value_tests):
                return True
        return False

    return predicate


def _value_test(op: str, operand: str) -> Callable[[str], bool]:
    if op == "eq":
        return lambda v: v == operand
    if op == "ne":
        return lambda v: v != operand
    if op == "contains":
        return lambda v: operand in v
    return lambda v: v.startswith(operand)


def _simple_predicate(path: str, op: str, literal: str) -> Predicate:
    if literal.lower() in ("true", "false", "null"):
        wanted: object = {"true": True, "false": False, "null": None}[literal.lower()]
    else:
        wanted = _unquote(literal)

    def predicate(event: Event) -> bool:
        value: Any = event
        for step in path.split("/"):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str) and isinstance(wanted, str):
            same = value.lower() == wanted.lower()
        else:
            same = value == wanted
        return same if op.lower() == "eq" else not same

    return predicate


def parse_filter(text: str) -> Predicate:
    """A predicate on a stored event (with its singleValueExtendedProperties) for $filter."""
    predicates: list[Predicate] = []
    for clause in _split_and(text.strip()):
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        m = _ANY.match(clause)
        if m:
            predicates.append(_any_predicate(m.group(1), m.group(2)))
            continue
        m = _SIMPLE.match(clause)
        if m:
            predicates.append(_simple_predicate(m.group(1), m.group(2), m.group(3)))
            continue
        raise BadQuery(f"Invalid filter clause: {clause!r}")
    return lambda event: all(p(event) for p in predicates)


_EXPAND = re.compile(
    rf"^singleValueExtendedProperties\(\s*\$filter\s*=\s*id\s+eq\s+({_STR})\s*\)$", re.IGNORECASE
)


def parse_expand(text: str) -> list[str] | None:
    """Property keys to expand singleValueExtendedProperties with; None if nothing asked."""
    text = text.strip()
    if not text:
        return None
    wanted: list[str] = []
    for part in re.split(r"\s*,\s*(?=singleValueExtendedProperties)", text, flags=re.IGNORECASE):
        m = _EXPAND.match(part)
        if m:
            wanted.append(property_key(_unquote(m.group(1))))
            continue
        inner = re.match(
            r"^singleValueExtendedProperties\(\s*\$filter\s*=\s*(.+)\)$", part, re.IGNORECASE
        )
        if inner:
            ids = re.findall(rf"id\s+eq\s+({_STR})", inner.group(1), re.IGNORECASE)
            if ids and re.fullmatch(
                rf"(?:id\s+eq\s+{_STR})(?:\s+or\s+id\s+eq\s+{_STR})*", inner.group(1).strip(), re.I
            ):
                wanted += [property_key(_unquote(i)) for i in ids]
                continue
        raise BadQuery(f"unsupported $expand: {part!r}")
    return wanted


def expanded_properties(event: Event, keys: list[str]) -> list[dict[str, str]]:
    return [
        {"id": str(p["id"]), "value": str(p.get("value", ""))}
        for p in event.get("singleValueExtendedProperties") or []
        if property_key(str(p.get("id", ""))) in keys
    ]


ALWAYS_SELECTED = ("@odata.type", "@odata.etag", "id", "@removed")


def apply_select(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return item
    names = {n.strip() for n in select.split(",") if n.strip()}
    names_lower = {n.lower() for n in names} | {"singlevalueextendedproperties"}
    return {k: v for k, v in item.items() if k in ALWAYS_SELECTED or k.lower() in names_lower}
