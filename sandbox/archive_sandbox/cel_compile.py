"""Compiling ``x-kubernetes-validations`` rules, with the checks cel-go's type checker makes.

The ``cel`` engine parses but does not type-check. Kubernetes compiles every rule
against the schema at CRD registration, so a typo in a field name is rejected
then. A light static pass over the rule's tokens recovers the checks that matter
most: references to fields the schema does not declare (``undefined field``),
unknown variables and functions (``undeclared reference``), and ``oldSelf`` use.
Errors are rendered like cel-go's (``ERROR: <input>:L:C: msg`` plus the caret lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cel

from .cel_library import KNOWN_FUNCTIONS, SIZE_FUNCTION

Schema = dict[str, Any]

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>[rR]?[bB]?[rR]?("{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|"(\\.|[^"\\\n])*"|'(\\.|[^'\\\n])*'))
    |(?P<number>\d+\.\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|0x[0-9a-fA-F]+u?|\d+[eE][+-]?\d+|\d+u?)
    |(?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
    |(?P<punct>\.\?|&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
    |(?P<other>.)""",
    re.VERBOSE,
)

_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_KEYWORDS = frozenset({"true", "false", "null", "in"})
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type", "dyn"}
)
_NAMESPACES = frozenset({"optional", "sets"})
_RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int


def tokenize(source: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start()))
    return tokens


def escape_property(name: str) -> str | None:
    """The CEL identifier Kubernetes exposes a property as, or None if inaccessible."""
    if name in _RESERVED:
        return f"__{name}__"
    if not re.match(r"^[_a-zA-Z][_a-zA-Z0-9./-]*$", name):
        return None
    escaped = name.replace("__", "__underscores__")
    for char, word in ((".", "__dot__"), ("-", "__dash__"), ("/", "__slash__")):
        escaped = escaped.replace(char, word)
    return escaped


class CompileError(Exception):
    """A rule that Kubernetes would refuse to compile; str() is cel-go shaped."""


@dataclass
class CompiledRule:
    source: str
    program: Any
    uses_old_self: bool
    errors: list[str] = field(default_factory=list)


def _caret(source: str, offset: int, message: str) -> str:
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    line = source[line_start : line_end if line_end >= 0 else len(source)]
    line_no = source.count("\n", 0, offset) + 1
    column = offset - line_start
    return f"ERROR: <input>:{line_no}:{column + 1}: {message}\n | {line}\n | {'.' * column}^"


def _rewrite_size(tokens: list[Token], source: str) -> str:
    """Route size() calls to the code-point-counting override."""
    pieces: list[str] = []
    last = 0
    for i, token in enumerate(tokens):
        if (
            token.kind == "ident"
            and token.text == "size"
            and i + 1 < len(tokens)
            and tokens[i + 1].text == "("
        ):
            pieces.append(source[last : token.offset])
            pieces.append(SIZE_FUNCTION)
            last = token.offset + len(token.text)
    pieces.append(source[last:])
    return "".join(pieces)


class _Checker:
    """Walks the token stream resolving ``self``/``oldSelf``/macro variables to schemas."""

    def __init__(self, source: str, tokens: list[Token], schema: Schema, root: bool) -> None:
        self.source = source
        self.tokens = tokens
        self.errors: list[str] = []
        self.bound: dict[str, Schema | None] = {"self": schema, "oldSelf": schema}
        self.root = root
        self.uses_old_self = False

    def _error(self, offset: int, message: str) -> None:
        self.errors.append(_caret(self.source, offset, message))

    def run(self) -> None:
        tokens = self.tokens
        for i, token in enumerate(tokens):
            if token.kind != "ident":
                continue
            prev = tokens[i - 1].text if i > 0 else ""
            nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
            if prev == ".":
                continue  # field selection or member call, handled from the chain head
            if nxt == "(":
                if token.text not in KNOWN_FUNCTIONS and token.text != SIZE_FUNCTION:
                    self._error(
                        tokens[i + 1].offset,
                        f"undeclared reference to '{token.text}' (in container '')",
                    )
                continue
            if self._bind_macro_variable(i):
                continue
            if token.text in _KEYWORDS or token.text in _TYPE_NAMES:
                continue
            if token.text in _NAMESPACES and nxt == ".":
                continue
            if token.text == "oldSelf":
                self.uses_old_self = True
            if token.text not in self.bound:
                self._error(
                    token.offset, f"undeclared reference to '{token.text}' (in container '')"
                )
                continue
            self._walk_chain(i, self.bound[token.text], is_root=token.text in ("self", "oldSelf"))
        for i, token in enumerate(tokens):
            nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
            if token.kind == "ident" and nxt == "(" and i > 0 and tokens[i - 1].text == ".":
                known = token.text in KNOWN_FUNCTIONS or token.text in _MACROS
                if not known and tokens[i - 2].text not in _NAMESPACES:
                    self._error(
                        tokens[i + 1].offset,
                        f"undeclared reference to '{token.text}' (in container '')",
                    )

    def _bind_macro_variable(self, i: int) -> bool:
        """``<receiver>.all(x, ...)``: x is bound; True when token i is such an x."""
        tokens = self.tokens
        if i < 3 or tokens[i - 1].text != "(" or tokens[i - 2].text not in _MACROS:
            return False
        if tokens[i - 3].text != "." or i + 1 >= len(tokens) or tokens[i + 1].text != ",":
            return False
        if tokens[i].text not in self.bound:
            self.bound[tokens[i].text] = None  # element schema unknown unless the chain sets it
        return True

    def _walk_chain(self, i: int, schema: Schema | None, is_root: bool) -> None:
        tokens = self.tokens
        j = i + 1
        at_root = is_root and self.root
        while j < len(tokens) and schema is not None:
            text = tokens[j].text
            if text == "[":
                j = self._skip_brackets(j)
                schema = _element_schema(schema)
                at_root = False
                continue
            if text != "." or j + 1 >= len(tokens) or tokens[j + 1].kind != "ident":
                return
            name = tokens[j + 1].text
            if j + 2 < len(tokens) and tokens[j + 2].text == "(":
                self._bind_macro_from_receiver(j + 1, schema)
                return
            resolved = _select(schema, name, at_root)
            if resolved is _UNDEFINED:
                self._error(tokens[j].offset, f"undefined field '{name}'")
                return
            schema = resolved if isinstance(resolved, dict) else None
            at_root = False
            j += 2

    def _bind_macro_from_receiver(self, name_index: int, receiver: Schema) -> None:
        tokens = self.tokens
        if tokens[name_index].text not in _MACROS:
            return
        if name_index + 3 < len(tokens) and tokens[name_index + 3].text == ",":
            var = tokens[name_index + 2].text
            element = _element_schema(receiver)
            if receiver.get("type") == "object":
                element = {"type": "string"}  # map macros range over keys
            self.bound[var] = element

    def _skip_brackets(self, j: int) -> int:
        depth = 0
        while j < len(self.tokens):
            if self.tokens[j].text == "[":
                depth += 1
            elif self.tokens[j].text == "]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return j


_UNDEFINED = object()


def _element_schema(schema: Schema) -> Schema | None:
    if schema.get("type") == "array":
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else None


def _select(schema: Schema, name: str, at_root: bool) -> Schema | object | None:
    """Schema of ``<schema>.name``, None when not statically known, _UNDEFINED if invalid."""
    if schema.get("x-kubernetes-int-or-string") or schema.get("type") not in (None, "object"):
        return None  # type errors on non-objects are left to runtime
    properties: dict[str, Schema] = schema.get("properties") or {}
    by_cel_name = {escape_property(key): sub for key, sub in properties.items()}
    if at_root or schema.get("x-kubernetes-embedded-resource"):
        if name in ("apiVersion", "kind"):
            return {"type": "string"}
        if name == "metadata":
            return {"type": "object", "properties": {"name": {}, "generateName": {}}}
    if name in by_cel_name:
        return by_cel_name[name]
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    if properties or not schema.get("x-kubernetes-preserve-unknown-fields"):
        return _UNDEFINED
    return None


@lru_cache(maxsize=2048)
def _compile_source(source: str) -> Any:
    return cel.compile(source)


def compile_rule(source: str, schema: Schema, resource_root: bool = False) -> CompiledRule:
    """Compile one rule for the schema node it sits on; never raises for bad rules."""
    tokens = tokenize(source)
    checker = _Checker(source, tokens, schema, resource_root)
    try:
        program = _compile_source(_rewrite_size(tokens, source))
    except ValueError as error:
        text = str(error)
        detail = text.split("': ", 1)[1] if "': " in text else text
        return CompiledRule(source, None, False, [detail])
    checker.run()
    return CompiledRule(source, program, checker.uses_old_self, checker.errors)
