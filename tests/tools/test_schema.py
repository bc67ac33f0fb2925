"""A function's tool schema comes from its signature, type hints and docstring; a parameter
JSON cannot carry is refused before anything is sent."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Annotated, Literal, Optional, TypedDict

import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.tools import tool_of


@dataclass
class Place:
    """Where.

    Attributes:
        city: The city's name.
        country: ISO code.
    """

    city: str
    country: str = "FR"
    tags: list[str] = field(default_factory=list)


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


class Window(TypedDict):
    start: int
    end: int


def forecast(
    city: str,
    unit: Literal["c", "f"] = "c",
    days: Optional[int] = None,  # noqa: UP045 - the spelling users write
    hours: int | None = None,
    tags: list[str] | None = None,
    weights: dict[str, float] | None = None,
    place: Place | None = None,
    scale: Unit = Unit.C,
    window: Window | None = None,
    note: Annotated[str, "Anything to add."] = "",
) -> dict[str, object]:
    """Forecast the weather.

    Over several lines.

    Args:
        city (str): The city,
            e.g. Paris.
        unit: c or f.

    Returns:
        The forecast.
    """
    return {}


def props(func: object) -> dict[str, dict[str, object]]:
    return tool_of(func).schema()["function"]["parameters"]["properties"]


def test_types_defaults_and_google_docstrings_make_the_schema() -> None:
    schema = tool_of(forecast).schema()
    function = schema["function"]
    assert schema["type"] == "function" and function["name"] == "forecast"
    assert function["description"] == "Forecast the weather.\n\nOver several lines."
    parameters = function["parameters"]
    assert parameters["required"] == ["city"]  # every other one has a default
    p = parameters["properties"]
    assert p["city"] == {"type": "string", "description": "The city, e.g. Paris."}
    assert p["unit"] == {"type": "string", "enum": ["c", "f"], "description": "c or f.",
                         "default": "c"}  # fmt: skip
    assert p["days"]["type"] == ["integer", "null"] and p["hours"]["type"] == ["integer", "null"]
    assert p["tags"] == {"type": ["array", "null"], "items": {"type": "string"}, "default": None}
    assert p["weights"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "number"},
    }
    place = p["place"]["anyOf"][0]
    assert place["type"] == "object" and place["required"] == ["city"]
    assert place["properties"]["city"] == {"type": "string", "description": "The city's name."}
    assert place["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert p["scale"] == {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}
    window = p["window"]["anyOf"][0]
    assert window["required"] == ["start", "end"]
    assert p["note"]["description"] == "Anything to add."


def test_numpy_and_rest_docstrings_describe_the_arguments() -> None:
    def numpy_style(a: int, b: float = 1.0) -> int:
        """Add.

        Parameters
        ----------
        a : int
            The first.
        b : float, optional
            The second,
            over two lines.

        Returns
        -------
        int
        """
        return a

    def rest_style(a: int, *args: int, flag: bool = False, **kwargs: int) -> None:
        """Do it.

        :param a: The a.
        :param bool flag: Whether.
        :returns: nothing
        """

    assert props(numpy_style)["a"]["description"] == "The first."
    assert props(numpy_style)["b"]["description"] == "The second, over two lines."
    rest = tool_of(rest_style).schema()["function"]
    assert rest["description"] == "Do it."
    assert set(rest["parameters"]["properties"]) == {"a", "flag"}  # *args/**kwargs: not sent
    assert rest["parameters"]["properties"]["flag"] == {
        "type": "boolean", "description": "Whether.", "default": False,
    }  # fmt: skip


def test_pydantic_models_bring_their_own_schema() -> None:
    pydantic = pytest.importorskip("pydantic")
    namespace: dict[str, object] = {"pydantic": pydantic}
    cell = (  # as a notebook cell defines them
        "class Point(pydantic.BaseModel):\n    x: float\n    y: float = 0\n"
        "class Shape(pydantic.BaseModel):\n    points: list[Point]\n"
        "def draw(shape: Shape) -> int:\n    return len(shape.points)\n"
    )
    exec(compile(cell, "<cell>", "exec", dont_inherit=True), namespace)
    tool = tool_of(namespace["draw"])
    parameters = tool.schema()["function"]["parameters"]
    assert parameters["properties"]["shape"]["properties"]["points"]["items"] == {
        "$ref": "#/$defs/Point"
    }
    assert "Point" in parameters["$defs"]  # the reference resolves from the root
    assert tool.call({"shape": {"points": [{"x": 1}, {"x": 2, "y": 3}]}}) == 2


def test_the_decorator_names_describes_and_marks_a_tool() -> None:
    @qwen_magic.tool
    def plain(x: int) -> int:
        """Plain."""
        return x

    @qwen_magic.tool(name="lookup", description="Look it up.", confirm=True, thread_safe=True)
    def find(key: str) -> str:
        """Not this."""
        return key

    assert plain(2) == 2 and find("k") == "k"  # still ordinary functions
    assert tool_of(plain).confirm is False
    marked = tool_of(find)
    assert (marked.name, marked.description, marked.confirm, marked.thread_safe) == (
        "lookup", "Look it up.", True, True,
    )  # fmt: skip


def test_arguments_come_back_as_the_hinted_types() -> None:
    got = {}

    def book(place: Place, scale: Unit, span: tuple[int, int], days: set[str]) -> None:
        got.update(place=place, scale=scale, span=span, days=days)

    tool_of(book).call(
        {"place": {"city": "Paris"}, "scale": "fahrenheit", "span": [1, 2], "days": ["mo", "mo"]}
    )
    assert got == {"place": Place("Paris"), "scale": Unit.F, "span": (1, 2), "days": {"mo"}}


class Frame:
    """Something JSON cannot carry (a DataFrame, a connection...)."""


def test_a_parameter_json_cannot_carry_is_refused_before_any_request(ip, emulator) -> None:
    def summarize(df: Frame) -> str:
        return ""

    ip.user_ns["summarize"] = summarize
    with pytest.raises(UsageError) as caught:
        ip.run_cell_magic("qwen", "--tools summarize", "Summarize it.")
    message = str(caught.value)
    assert "'summarize'" in message and "'df'" in message and "Frame" in message
    assert "look it up inside the function" in message
    with pytest.raises(UsageError, match="no 'missing' in your namespace"):
        ip.run_cell_magic("qwen", "--tools missing", "Hi")
    ip.user_ns["anonymous"] = lambda x: x
    with pytest.raises(UsageError, match="not one a model can call"):
        ip.run_cell_magic("qwen", "--tools anonymous", "Hi")

    async def fetch(url: str) -> str:
        return url

    ip.user_ns["fetch"] = fetch
    with pytest.raises(UsageError, match="async function"):
        ip.run_cell_magic("qwen", "--tools fetch", "Hi")
    with pytest.raises(UsageError, match="goes with --tools"):
        ip.run_cell_magic("qwen", "--max-rounds 3", "Hi")
    ip.user_ns["forecast"] = forecast
    with pytest.raises(UsageError, match="1 to 100"):
        ip.run_cell_magic("qwen", "--tools forecast --max-rounds 0", "Hi")
    assert emulator.requests == []
