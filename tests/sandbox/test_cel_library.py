"""The Kubernetes CEL libraries as the sandbox provides them: each expression must be true."""

from __future__ import annotations

from typing import Any

import cel
import pytest
from archive_sandbox.cel_compile import compile_rule
from archive_sandbox.cel_library import FUNCTIONS
from archive_sandbox.cel_rules import runtime_error_text

TRUE_EXPRESSIONS = [
    # standard macros and functions
    "[1, 2, 3].all(x, x > 0) && [1, 2, 3].exists(x, x == 2)",
    "[1, 2, 3].exists_one(x, x > 2) && [1, 2].map(x, x * 2) == [2, 4]",
    "[1, 2, 3].filter(x, x > 1).size() == 2 && size('abc') == 3",
    "'hello'.startsWith('he') && 'hello'.endsWith('lo') && 'hello'.contains('ll')",
    "'02:30'.matches('^[0-2][0-9]:[0-5][0-9]$')",
    "int('42') == 42 && double(1) == 1.0 && string(7) == '7' && uint(3) == 3u",
    # timestamps and durations
    "timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z') == duration('24h')",
    "timestamp('2024-01-01T00:00:00Z') + duration('1h') > timestamp('2024-01-01T00:30:00Z')",
    "duration('8784h') > duration('8783h59m')",
    "timestamp('2024-03-05T10:00:00Z').getDayOfWeek() == 2",
    # strings extension
    "'abc'.charAt(1) == 'b' && 'abcabc'.indexOf('c') == 2 && 'abcabc'.lastIndexOf('c') == 5",
    "'abcabc'.indexOf('c', 3) == 5",
    "'MiXed'.lowerAscii() == 'mixed' && 'MiXed'.upperAscii() == 'MIXED'",
    "'a-b-c'.replace('-', '+') == 'a+b+c' && 'a-b-c'.replace('-', '+', 1) == 'a+b-c'",
    "'0 2 * * 1'.split(' ').size() == 5 && 'a,b,c'.split(',', 2) == ['a', 'b,c']",
    "'hello'.substring(1) == 'ello' && 'hello'.substring(1, 3) == 'el'",
    "'  x  '.trim() == 'x' && ['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'",
    "'äöü'.size() == 3",
    # Kubernetes list library
    "[1, 2, 3].isSorted() && ![3, 1].isSorted() && [1, 2, 3].sum() == 6",
    "[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3",
    "[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2",
    # Kubernetes regex library
    "'abc123def'.find('[0-9]+') == '123' && 'a1b22'.findAll('[0-9]+') == ['1', '22']",
    "'a1b22c3'.findAll('[0-9]+', 2) == ['1', '22'] && 'abc'.find('[0-9]') == ''",
    # Kubernetes URL library
    "url('https://example.com:8443/p?q=1').getHost() == 'example.com:8443'",
    "url('https://example.com:8443/p').getHostname() == 'example.com'",
    "url('https://example.com:8443/p').getPort() == '8443'",
    "url('https://example.com/p').getScheme() == 'https' && isURL('https://x') && !isURL('x')",
    "url('https://example.com/a/b').getEscapedPath() == '/a/b'",
    # sets extension and optionals
    "sets.contains([1, 2, 3], [1, 2]) && sets.equivalent([1, 2], [2, 1])",
    "sets.intersects([1, 2], [2, 3]) && !sets.intersects([1], [2])",
    "optional.of(1).hasValue() && !optional.none().hasValue() && optional.none().orValue(5) == 5",
]


def _evaluate(expression: str, variables: dict[str, Any] | None = None) -> Any:
    rule = compile_rule(expression, {"type": "object"})
    assert rule.errors == []
    return rule.program.execute(cel.Context(variables or {"self": {}}, FUNCTIONS))


@pytest.mark.parametrize("expression", TRUE_EXPRESSIONS)
def test_expression_is_true(expression: str) -> None:
    assert _evaluate(expression) is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[].min() == 0", "min called on empty list"),
        ("'abc'.charAt(9) == ''", "index out of range: 9"),
        ("{'a': 1}['b'] == 1", "no such key: b"),
        ("1 / 0 == 1", "division by zero"),
        ("9223372036854775807 + 1 > 0", "integer overflow"),
        ("'a' + 1 == 'a1'", "no such overload"),
    ],
)
def test_runtime_errors_use_cel_go_wording(expression: str, message: str) -> None:
    with pytest.raises(Exception) as raised:
        _evaluate(expression)
    assert runtime_error_text(raised.value) == message


SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "user": {"type": "string"},
                "schedules": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "x-dashed": {"type": "string"},
            },
        }
    },
}


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("self.spec.user == 'a'", None),
        ("self.metadata.name.startsWith('a') && self.kind == 'X'", None),
        ("self.spec.schedules.all(s, s.name != '')", None),
        ("self.spec.labels.all(k, k != '') && self.spec.labels.anything == 'x'", None),
        ("self.spec.x__dash__dashed == 'a'", None),
        ("self.spec.schedules[0].name == 'a'", None),
        ("'self.spec.nope' != ''", None),
        ("self.spec.usr == 'a'", "ERROR: <input>:1:10: undefined field 'usr'"),
        ("self.spec.schedules.all(s, s.nam != '')", "undefined field 'nam'"),
        ("self.metadata.labels.size() > 0", "undefined field 'labels'"),
        ("other == 1", "undeclared reference to 'other' (in container '')"),
        ("self.spec.user.frobnicate()", "undeclared reference to 'frobnicate' (in container '')"),
    ],
)
def test_compile_checks_fields_and_names(rule: str, error: str | None) -> None:
    errors = compile_rule(rule, SCHEMA, resource_root=True).errors
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and error in errors[0]


def test_transition_rules_are_detected() -> None:
    assert compile_rule("self == oldSelf", {"type": "string"}).uses_old_self
    assert not compile_rule("self == 'oldSelf'", {"type": "string"}).uses_old_self


def test_compiled_programs_are_cached() -> None:
    first = compile_rule("self.size() > 1", {"type": "string"}).program
    second = compile_rule("self.size() > 1", {"type": "string"}).program
    assert first is second
