"""{name} filling: data in, actions never (without the opt-in), code and JSON left alone,
undefined names caught."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from qwen_magic.ipython.interpolate import interpolate, interpolate_with_media


class Obj:
    attr = "A"
    calls = 0

    @property
    def total(self) -> int:  # reading a property is reading data
        return 42

    def __getitem__(self, key):
        return f"item {key}"


class Frame:
    shape = (120, 4)


NS = {
    "x": 3,
    "name": "Ada",
    "obj": Obj(),
    "seq": [10, 20, 30],
    "d": {"k": "v", 2: "two"},
    "df": Frame(),
    "In": ["", "print(1)", "x = 3", "df.describe()"],
    "Out": {2: "two", 3: "table"},
    "_": "last",
    "i": 1,
    "a": type("A", (), {"b": [0, type("B", (), {"c": "deep"})()]})(),
}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Hi {name}", "Hi Ada"),
        ("{obj.attr}{seq[0]}", "A10"),
        ("{df.shape[0]} rows", "120 rows"),
        ("{In[3]} gave {Out[3]}", "df.describe() gave table"),
        ("{Out[2]} and {_}", "two and last"),
        (
            '{d["k"]} {d[2]} {seq[-1]} {seq[i]} {seq[1:]} {seq[::2]}',
            "v two 30 20 [20, 30] [10, 30]",
        ),
        ("{a.b[1].c}", "deep"),
        ("{obj.total} {obj[1, 'x']}", "42 item (1, 'x')"),
        ("Keep {{literal}} braces", "Keep {literal} braces"),
        ('JSON {"a": 1, "b": [1, 2]} stays', 'JSON {"a": 1, "b": [1, 2]} stays'),
        ("def f(): return {k: v for k, v in d}", "def f(): return {k: v for k, v in d}"),
        ("a set {red, green} of words", "a set {red, green} of words"),
        ("```python\nprint(f'{undefined}')\n```", "```python\nprint(f'{undefined}')\n```"),
        ("{ x }", "3"),
    ],
)
def test_data_is_filled(prompt: str, expected: str) -> None:
    assert interpolate(prompt, dict(NS)) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "{exit()}",
        "{quit()}",
        "{__import__('os').system('touch pwned')}",
        "{len(seq)}",
        "{x * 2}",
        "{seq[len(seq) - 1]}",
        "{obj.__class__}",
        "{obj.__class__.__init__.__globals__}",
        "{(y := 5)}",
        "{[s for s in seq]}",
        "{-x}",
        "{x if x else name}",
    ],
)
def test_anything_that_acts_is_sent_as_written_and_reported(expression: str) -> None:
    namespace = dict(NS, exit=_boom, quit=_boom)
    filled = interpolate_with_media(f"What does {expression} do?", namespace)
    assert filled.text == f"What does {expression} do?"
    assert filled.kept == [expression]
    assert "y" not in namespace  # the walrus assigned nothing


def _boom() -> None:
    raise AssertionError("called")


def test_with_the_opt_in_calls_and_operators_run_but_never_exit_or_quit() -> None:
    namespace = dict(NS, exit=_boom, quit=_boom)
    filled = interpolate_with_media(
        "{len(seq)} items, max {max(seq)}, {x * 2}; {exit()} {quit()}", namespace, calls=True
    )
    assert filled.text == "3 items, max 30, 6; {exit()} {quit()}"
    assert filled.kept == ["{exit()}", "{quit()}"]


def test_with_the_opt_in_a_failing_expression_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ZeroDivisionError"):
        interpolate("{x / 0}", dict(NS), calls=True)
    with pytest.raises(UsageError, match="SystemExit"):  # a prompt never ends the kernel
        interpolate("{sys.exit(3)}", dict(NS, sys=__import__("sys")), calls=True)


def test_reading_that_fails_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"\{seq\[7\]\} in the prompt could not be evaluated: "):
        interpolate("{seq[7]}", dict(NS))


def test_an_undefined_name_is_a_usage_error_that_says_what_to_do() -> None:
    with pytest.raises(UsageError) as info:
        interpolate("Tell me about {topic}", dict(NS))
    message = str(info.value)
    assert "'topic'" in message and "{{topic}}" in message and "--raw" in message


def test_interpolation_happens_once() -> None:
    assert interpolate("{v}", {"v": "{x}", "x": 1}) == "{x}"


def test_builtin_names_in_prose_are_words_not_builtins() -> None:
    with pytest.raises(UsageError, match="'type'"):
        interpolate("Group rows by {type}.", dict(NS))
    assert interpolate("```sql\nSELECT {max} FROM t\n```", dict(NS)).endswith("{max} FROM t\n```")


def test_code_in_a_fence_is_left_alone_and_not_reported() -> None:
    filled = interpolate_with_media("```python\nprint(f'{len(seq)}')\n```", dict(NS))
    assert filled.text == "```python\nprint(f'{len(seq)}')\n```" and filled.kept == []
