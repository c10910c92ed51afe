"""The JSONPath subset CRD printer columns use: `.a.b`, `[0]`, `[*]`, `['x.y']`,
`[?(@.type=="Ready")]` filters (==, !=, existence), optionally wrapped in `{...}`."""

from __future__ import annotations

import json
import re
from typing import Any

_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_$-]+)
      | \[(?P<index>-?\d+|\*)\]
      | \[['"](?P<quoted>[^'"]+)['"]\]
      | \[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_$-]+)+)\s*
            (?:(?P<op>==|!=)\s*(?P<value>"[^"]*"|'[^']*'|[^)\s]+))?\s*\)\]
      | \.\*""",
    re.VERBOSE,
)


def parse(path: str) -> list[re.Match[str]]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1].strip()
    if path.startswith("$"):
        path = path[1:]
    steps: list[re.Match[str]] = []
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[pos:]!r}")
        steps.append(m)
        pos = m.end()
    return steps


def _literal(text: str) -> Any:
    if text[:1] in ("'", '"'):
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def find(obj: Any, path: str) -> list[Any]:
    """All values `path` selects in `obj` (empty when nothing matches)."""
    current = [obj]
    for step in parse(path):
        nxt: list[Any] = []
        for value in current:
            if step.group("field") is not None or step.group("quoted") is not None:
                key = step.group("field") or step.group("quoted")
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif step.group("index") is not None:
                if isinstance(value, list):
                    if step.group("index") == "*":
                        nxt.extend(value)
                    else:
                        i = int(step.group("index"))
                        if -len(value) <= i < len(value):
                            nxt.append(value[i])
                elif isinstance(value, dict) and step.group("index") == "*":
                    nxt.extend(value.values())
            elif step.group("fpath") is not None:
                items = value if isinstance(value, list) else []
                for item in items:
                    found = find(item, step.group("fpath"))
                    if step.group("op") is None:
                        ok = bool(found)
                    else:
                        want = _literal(step.group("value"))
                        equal = bool(found) and (found[0] == want or str(found[0]) == str(want))
                        ok = equal if step.group("op") == "==" else not equal
                    if ok:
                        nxt.append(item)
            else:  # .*
                if isinstance(value, dict):
                    nxt.extend(value.values())
                elif isinstance(value, list):
                    nxt.extend(value)
        current = nxt
    return current
