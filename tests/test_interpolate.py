"""{name} filling: values in, code and JSON left alone, undefined names caught."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from qwen_magic.interpolate import interpolate


class Obj:
    attr = "A"


NS = {"x": 3, "name": "Ada", "obj": Obj(), "seq": [10, 20], "Out": {2: "two"}, "_": "last"}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Hi {name}", "Hi Ada"),
        ("{obj.attr}{seq[0]}{x * 2}", "A106"),
        ("{Out[2]} and {_}", "two and last"),
        ("Keep {{literal}} braces", "Keep {literal} braces"),
        ('JSON {"a": 1, "b": [1, 2]} stays', 'JSON {"a": 1, "b": [1, 2]} stays'),
        ("def f(): return {k: v for k, v in d}", "def f(): return {k: v for k, v in d}"),
        ("a set {red, green} of words", "a set {red, green} of words"),
        ("```python\nprint(f'{undefined}')\n```", "```python\nprint(f'{undefined}')\n```"),
        ("{ x }", "3"),
    ],
)
def test_interpolation(prompt: str, expected: str) -> None:
    assert interpolate(prompt, dict(NS)) == expected


def test_an_undefined_name_is_a_usage_error_that_says_what_to_do() -> None:
    with pytest.raises(UsageError) as info:
        interpolate("Tell me about {topic}", dict(NS))
    message = str(info.value)
    assert "'topic'" in message and "{{topic}}" in message and "--raw" in message


def test_an_expression_that_fails_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ZeroDivisionError"):
        interpolate("{x / 0}", dict(NS))


def test_interpolation_happens_once() -> None:
    assert interpolate("{v}", {"v": "{x}", "x": 1}) == "{x}"


def test_builtin_names_in_prose_are_not_filled_but_builtins_in_expressions_are() -> None:
    with pytest.raises(UsageError, match="'type'"):
        interpolate("Group rows by {type}.", dict(NS))
    assert interpolate("{len(seq)} items, max {max(seq)}", dict(NS)) == "2 items, max 20"
    assert interpolate("```sql\nSELECT {max} FROM t\n```", dict(NS)).endswith("{max} FROM t\n```")
