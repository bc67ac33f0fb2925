"""What --logprobs shows: the answer's tokens shaded by probability in the static HTML, each
token's probability and alternatives in its title and data- attributes, every token escaped,
a summary, a note when none came back; and with -t 0.1,0.9 two shaded answers side by side,
also in a notebook saved by a headless run."""

from __future__ import annotations

import html
import math
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

from qwen_magic.render.logprobs import percent, shown
from qwen_magic.testing import Reply

HOSTILE = 'Look: <img src=x onerror="alert(1)"> <script>alert(2)</script> & done'


class Spans(HTMLParser):
    """Every element with its attributes, and the token spans' text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.tokens: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "span" and "data-p" in attributes:
            self._open = attributes
            self.tokens.append((attributes, ""))

    def handle_startendtag(self, tag, attrs) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "br" and self._open is not None:
            attributes, text = self.tokens[-1]
            self.tokens[-1] = (attributes, text + "\n")

    def handle_endtag(self, tag) -> None:
        if tag == "span":
            self._open = None

    def handle_data(self, data) -> None:
        if self._open is not None:
            attributes, text = self.tokens[-1]
            self.tokens[-1] = (attributes, text + data)


def parsed(markup: str) -> Spans:
    spans = Spans()
    spans.feed(markup)
    return spans


@pytest.fixture
def final(magics):
    magics.display = "final"
    return magics


def test_static_html_carries_each_tokens_probability_and_alternatives(ip, final) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--no-think --logprobs 3", "Name the capital of France")
    result = ip.user_ns["_qwen"]
    (out,) = cap.outputs
    spans = parsed(out.data["text/html"])
    assert len(spans.tokens) == len(result.logprobs) > 3
    for (attributes, text), item in zip(spans.tokens, result.logprobs, strict=True):
        assert text == item.token
        assert math.isclose(float(attributes["data-p"]), item.probability, abs_tol=1e-4)
        assert math.isclose(float(attributes["data-logprob"]), item.logprob, abs_tol=1e-4)
        title = attributes["title"]
        assert title.startswith(f"{shown(item.token)}: {percent(item.probability)}")
        for token, logprob in item.alternatives:
            assert f"{shown(token)}: {percent(math.exp(logprob))}" in title
        assert "background-color:rgba(" in attributes["style"]
    # the less likely, the darker
    by_p = sorted(spans.tokens, key=lambda pair: float(pair[0]["data-p"]))
    alpha = [float(a["style"].rsplit(",", 1)[1].rstrip(")")) for a, _ in by_p]
    assert alpha == sorted(alpha, reverse=True) and alpha[0] > alpha[-1]


def test_summary_in_html_markdown_and_plain(ip, final) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--no-think --logprobs", "Name the capital of France")
    items = ip.user_ns["_qwen"].logprobs
    (out,) = cap.outputs
    mean = sum(t.probability for t in items) / len(items)
    least = sorted((t for t in items if t.token.strip()), key=lambda t: t.logprob)[:5]
    expected = f"{len(items)} tokens · mean probability {percent(mean)} · least likely: "
    expected += ", ".join(f"{shown(t.token)} {percent(t.probability)}" for t in least)
    assert expected in out.data["text/plain"]
    assert expected in html.unescape(out.data["text/html"])
    markdown = out.data["text/markdown"]
    assert "Echo: Name the capital of France" in markdown  # the plain answer, as without it
    assert f"{len(items)} tokens · mean probability {percent(mean)}" in markdown


def test_hostile_tokens_are_escaped(ip, final, emulator) -> None:
    emulator.queue(Reply(text=HOSTILE))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--no-think --logprobs 2", "Say something")
    (out,) = cap.outputs
    markup = out.data["text/html"]
    spans = parsed(markup)
    assert "".join(text for _, text in spans.tokens) == HOSTILE  # shown as text, whole
    tags = {tag for tag, _ in spans.elements}
    assert tags <= {"div", "span", "p", "sub"}, tags
    for _, attributes in spans.elements:
        assert not any(name.startswith("on") for name in attributes)
    assert "<img" not in markup and "<script" not in markup
    assert "&lt;" in markup


def test_a_whole_tag_as_one_token_and_as_an_alternative_stays_text() -> None:
    """A server may send any string as a token (and as an alternative)."""
    from qwen_magic.events import TokenProb
    from qwen_magic.render.static import to_bundle
    from qwen_magic.result import Result

    evil = '<img src=x onerror="alert(1)">'
    items = [
        TokenProb("Hi ", -0.1, (("Hi ", -0.1), ('"><svg onload=alert(3)>', -2.5))),
        TokenProb(evil, -3.0, ((evil, -3.0), ("</span><script>x</script>", -3.5))),
    ]
    result = Result(text="Hi " + evil, model="m", api="chat", logprobs=items)
    markup = to_bundle(result)["text/html"]
    spans = parsed(markup)
    assert [text for _, text in spans.tokens] == ["Hi ", evil]
    assert '"><svg onload=alert(3)>' in spans.tokens[0][0]["title"]  # kept as text
    assert "</span><script>x</script>" in spans.tokens[1][0]["title"]
    assert {tag for tag, _ in spans.elements} <= {"div", "span", "p", "sub"}
    for _, attributes in spans.elements:
        assert not any(name.startswith("on") for name in attributes)
    assert "<img" not in markup and "<svg" not in markup and "<script" not in markup


def test_a_model_without_them_says_so(ip, final, emulator) -> None:
    emulator.queue(Reply(text="Paris.", logprobs=False))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-max --no-think --logprobs 2", "Capital of France?")
    assert ip.user_ns["_qwen"].logprobs == []
    (out,) = cap.outputs
    assert "text/html" not in out.data  # nothing to shade: the usual Markdown output
    assert "No token probabilities came back: qwen-max returned none" in out.data["text/plain"]
    assert "No token probabilities came back" in out.data["text/markdown"]


def test_compare_shows_two_shaded_answers_side_by_side(ip, final) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-t 0.1,0.9 --logprobs 3 --no-think -o cmp", "Name a colour")
    cmp = ip.user_ns["cmp"]
    (out,) = cap.outputs
    table = out.data["text/html"]
    cells = table.split("<td")[1:]
    assert len(cells) == 2
    for cell, result in zip(cells, cmp.values(), strict=True):
        assert 'data-qwen="logprobs"' in cell
        assert len(parsed("<td" + cell).tokens) == len(result.logprobs) > 0
    cold, warm = (sum(t.probability for t in r.logprobs) / len(r.logprobs) for r in cmp.values())
    assert cold > warm  # the emulator scales its invented numbers by the temperature
    assert out.data["text/markdown"].count("Token probabilities:") == 2


NOTEBOOK_CELLS = [
    "%load_ext qwen_magic\n%qwencmd emulator start\n%config QwenMagics.display = 'final'",
    "%%qwen -t 0.1,0.9 --logprobs 3 --no-think\nName a colour",
]


def test_a_saved_notebook_keeps_both_shaded_answers(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)
    outputs = [o for o in saved.cells[1].outputs if o.output_type == "display_data"]
    (out,) = outputs
    table = out.data["text/html"]
    assert table.count("<td") == 2 and table.count('data-qwen="logprobs"') == 2
    assert table.count("data-p=") >= 2 and "title=" in table
    assert "widget" not in str(saved.metadata)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
