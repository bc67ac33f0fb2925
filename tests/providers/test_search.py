"""Web search on the wire, per API: ``--search`` sends each API's switch, and the sources
come back numbered like the answer's ``[ref_N]`` markers where the API returns them."""

from __future__ import annotations

import re

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.events import Source, Sources, TextDelta
from qwen_magic.providers import make_provider
from qwen_magic.request import DEFAULT_SEARCH_OPTIONS
from qwen_magic.testing import Reply, request_for

PAGES = [
    ("Paris weather today", "https://weather.example/paris", "Weather Example"),
    ("Météo Paris", "https://www.meteo.example/fr/paris"),
    ("Seine levels", "https://river.example/seine"),
]
ANSWER = "Sunny, 21 °C [ref_1]; the Seine is low [ref_3], says the forecast [ref_2]."


def events(emulator, api: str, reply: Reply | None = None, **overrides) -> list:
    if reply is not None:
        emulator.queue(reply)
    overrides.setdefault("search", True)
    overrides.setdefault("model", "qwen-plus")
    return list(make_provider(request_for(emulator, api, **overrides)).events())


def sources_of(got: list) -> list[Sources]:
    return [e for e in got if isinstance(e, Sources)]


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[ref_(\d+)\]", text)}


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_search_sends_enable_search_and_a_strategy(emulator, api: str) -> None:
    events(emulator, api, Reply(text="ok"))
    body = emulator.last.body if api == "chat" else emulator.last.body["parameters"]
    assert body["enable_search"] is True and emulator.last.search
    assert body["search_options"] == DEFAULT_SEARCH_OPTIONS
    assert body["search_options"]["search_strategy"] == "turbo"
    assert body["search_options"]["citation_format"] == "[ref_<number>]"


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_search_options_are_merged_over_the_defaults(emulator, api: str) -> None:
    events(
        emulator, api, Reply(text="ok"), search_options={"search_strategy": "max", "freshness": 7}
    )
    body = emulator.last.body if api == "chat" else emulator.last.body["parameters"]
    assert body["search_options"] == {
        **DEFAULT_SEARCH_OPTIONS,
        "search_strategy": "max",
        "freshness": 7,
    }


def test_responses_searches_with_its_web_search_tool(emulator) -> None:
    events(emulator, "responses", Reply(text="ok"))
    body = emulator.last.body
    assert body["tools"] == [{"type": "web_search"}] and emulator.last.search
    assert "enable_search" not in body and "search_options" not in body


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_no_search_unless_asked(emulator, api: str) -> None:
    events(emulator, api, Reply(text="ok", sources=PAGES), search=False)
    assert not emulator.last.search
    assert "enable_search" not in str(emulator.last.body)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_native_sources_are_numbered_like_the_markers(emulator, stream: bool) -> None:
    got = events(emulator, "dashscope", Reply(text=ANSWER, sources=PAGES), stream=stream)
    (sources,) = sources_of(got)
    assert sources.items == (
        Source(1, "Paris weather today", "https://weather.example/paris", "Weather Example"),
        Source(2, "Météo Paris", "https://www.meteo.example/fr/paris", "meteo.example"),
        Source(3, "Seine levels", "https://river.example/seine", "river.example"),
    )
    text = "".join(e.text for e in got if isinstance(e, TextDelta))
    assert text == ANSWER and markers(text) == {s.index for s in sources.items}
    if stream:  # the first packet carries them: listed before the answer streams
        assert got.index(sources) < next(i for i, e in enumerate(got) if isinstance(e, TextDelta))


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_responses_sources_take_the_number_of_the_marker_they_cite(emulator, stream) -> None:
    got = events(emulator, "responses", Reply(text=ANSWER, sources=PAGES), stream=stream)
    (sources,) = sources_of(got)
    by_url = {s.url: s for s in sources.items}
    assert [s.index for s in sources.items] == [1, 2, 3]
    assert by_url["https://river.example/seine"] == Source(
        3, "Seine levels", "https://river.example/seine", "river.example"
    )
    assert by_url["https://www.meteo.example/fr/paris"].title == "Météo Paris"
    text = "".join(e.text for e in got if isinstance(e, TextDelta))
    assert markers(text) == {s.index for s in sources.items}


@pytest.mark.parametrize("api", ["responses", "dashscope"])
def test_sources_found_out_of_order_keep_their_marker_numbers(emulator, api: str) -> None:
    """The search lists page A first, but the answer cites it as [ref_2]: it is source 2."""
    pages = [
        {"title": "A", "url": "https://a.example/1", "index": 2},
        {"title": "B", "url": "https://b.example/2", "index": 1},
    ]
    reply = Reply(text="B says so [ref_1], A agrees [ref_2].", sources=pages)
    (sources,) = sources_of(events(emulator, api, reply))
    assert [(s.index, s.title) for s in sources.items] == [(1, "B"), (2, "A")]


def test_native_sources_need_enable_source(emulator) -> None:
    """The service lists sources only with ``enable_source`` (the default --search sends)."""
    got = events(
        emulator,
        "dashscope",
        Reply(text="x", sources=PAGES),
        search_options={"enable_source": False},
    )
    assert not sources_of(got)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_chat_search_yields_no_sources(emulator, stream: bool) -> None:
    """The compatible chat endpoint documents that it returns no sources: nothing to list,
    though the answer may still carry markers."""
    got = events(emulator, "chat", Reply(text=ANSWER, sources=PAGES), stream=stream)
    assert not sources_of(got)
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == ANSWER


def test_search_in_a_magic_cell_lists_sources_on_dashscope(ip, emulator) -> None:
    """The user's path: ``%%qwen --api dashscope --search`` keeps the sources in the Result."""
    emulator.queue(Reply(text=ANSWER, sources=PAGES))
    with capture_output():
        ip.run_cell_magic("qwen", "--api dashscope -m qwen-plus --search", "Weather in Paris?")
    result = ip.user_ns["_qwen"]
    assert [(s.index, s.url) for s in result.sources] == [
        (i + 1, p[1]) for i, p in enumerate(PAGES)
    ]
    assert emulator.last.body["parameters"]["enable_search"] is True


def test_search_options_in_a_magic_cell_must_be_json(ip, emulator) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="search-options"):
        ip.run_cell_magic("qwen", "--search --search-options '[1, 2]'", "x")
    assert not [r for r in emulator.requests if r.protocol != "models"]
