"""Model text is untrusted: everything shown from an answer, its reasoning, a chat history or a
server's error message goes through here before a frontend renders it.

Jupyter shows our outputs as *trusted* (they were made in this session): its Markdown renderer
puts whatever HTML the Markdown makes into the page, scripts and handlers included. So:

- ``safe_markdown``: Markdown in which raw HTML cannot happen. Every ``<`` that could open a
  tag is escaped outside code; links go only to http(s), mailto or ``#``; images only from
  ``data:`` pictures (a remote image becomes a link: an answer steered by a prompt injection
  would otherwise leak data through the image's URL). Code stays code, and where a code region
  would be dangerous if some other Markdown parser (marked in JupyterLab, mistune in nbconvert,
  markdown-it in VS Code) did not see it as code, it is written so that none can disagree.
- ``plain_markdown`` / ``inline_code``: a server's string shown literally, as text or as code.
- ``safe_html``: ``-f html`` answers through an allowlist sanitizer (nh3, i.e. ammonia).
- ``plain_text``: terminal output without control sequences (OSC 52 clipboard writes, title
  changes, cursor moves).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# ------------------------------------------------------------------------------ Markdown
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_TAG_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/!?")
_TAGLIKE = re.compile(r"<[A-Za-z/!?]")
# A tag without attributes, e.g. <iostream>, <T>, </div>: inert even if a parser took it for HTML
# (no ":" or "@": <javascript:x> would be an autolink).
_BARE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9._-]*)\s*/?>")
# ... unless its element runs, loads, swallows what follows, or changes the page.
_ACTIVE_ELEMENTS = frozenset(
    (
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("form", "input", "button", "textarea", "select", "option", "meta", "link", "base"),
        *("svg", "math", "template", "noscript", "noembed", "noframes", "plaintext", "xmp"),
        *("listing", "pre", "title", "img", "image", "video", "audio", "source", "track"),
        *("picture", "portal", "slot", "dialog"),
    )
)
# A line some parser may take for a fence with a quote in its info string: JupyterLab's code
# highlighter puts the info string into class="language-…" unescaped.
_QUOTED_FENCE = re.compile(r'^[ \t>*+\-0-9.)]*(?:```|~~~)[^\n]*"', re.MULTILINE)
_MATH_LINK = re.compile(r"\\(?:href|url)\s*\{(?!\s*(?:https?://|mailto:|#))")
_LINKISH = re.compile(r"\][ \t]*[(:]|!\[")
# What starts or ends math before a frontend parses the Markdown (JupyterLab's removeMath,
# nbconvert's mistune math plugin): such a region may swallow a code fence.
_MATH_MARK = re.compile(r"\$|\\\\[()\[\]]|\\(?:begin|end)\{")
# Math delimiters a frontend looks for in the raw text even inside a fence (JupyterLab
# protects only `$`; nbconvert's mistune matches `$$`, `\\[`, `\begin{` across blocks).
_BLOCK_MATH = re.compile(r"\$\$|\\\\[()\[\]]|\\(?:begin|end)\{")
_FENCE_INSIDE = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)
_SAFE_URL = re.compile(r"(?:https?://|mailto:|#)", re.IGNORECASE)
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp)[;,]", re.IGNORECASE)
_INFO_WORD = re.compile(r"[A-Za-z0-9_+#.-]+")


def _dangerous(code: str) -> bool:
    """Would ``code`` do harm if a parser took it for Markdown text rather than code?"""
    if _LINKISH.search(code) or _QUOTED_FENCE.search(code):
        return True
    for match in _TAGLIKE.finditer(code):
        tag = _BARE_TAG.match(code, match.start())
        if tag is None or tag.group(1).lower() in _ACTIVE_ELEMENTS:
            return True
    return False


def _entities(text: str) -> str:
    """Every ASCII punctuation character as a numeric entity: no Markdown, HTML or math left."""
    return "".join(f"&#{ord(c)};" if c in _ASCII_PUNCT else c for c in text)


def _code_html(content: str) -> str:
    """A code span as an HTML ``<code>`` element: same look, nothing left to parse inside."""
    content = content.replace("\n", " ")
    if content.startswith(" ") and content.endswith(" ") and content.strip(" "):
        content = content[1:-1]  # CommonMark strips one space on each side
    return f"<code>{_entities(content)}</code>"


def _pre_html(content: str, info: str) -> str:
    """A code block as one line of HTML: parsers agree on it whatever surrounds it."""
    body = _entities(content.rstrip("\n")).replace("\n", "&#10;").replace("\t", "&#9;")
    lang = f' class="language-{info}"' if info and not info.startswith("mermaid") else ""
    return f"<pre><code{lang}>{body}</code></pre>"


def inline_code(text: str) -> str:
    """``text`` shown as inline code, literally, whatever it contains."""
    if "\n" not in text and "`" not in text and not _dangerous(text) and text.strip():
        return f"`{text}`"
    return _code_html(text)


_PLAIN_ESCAPES = {
    **{c: "\\" + c for c in "`*_[]|~!#"},
    **{c: f"&#{ord(c)};" for c in "\\<>&$"},  # (a backslash or `$` could start math)
}


_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])\\_(?=[A-Za-z0-9])")


def plain_markdown(text: str) -> str:
    """``text`` shown literally: no emphasis, link, code, math or HTML; one line."""
    text = "".join(_PLAIN_ESCAPES.get(c, c) for c in " ".join(text.splitlines()))
    return _INTRAWORD_UNDERSCORE.sub("_", text)  # invalid_api_key: no emphasis there anyway


def _clean_info(info: str) -> str:
    match = _INFO_WORD.match(info.strip())
    return match.group(0) if match else ""


@lru_cache(maxsize=2)
def _parser(inline: bool = True) -> Any:
    """markdown-it (CommonMark + GFM tables), with HTML on: where a frontend sees a tag we see
    one too (then escape it). Without ``inline``: the blocks only, at half the cost."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return md if inline else md.disable("inline")


def safe_markdown(text: str) -> str:
    """Markdown from an untrusted source, made safe for every Markdown frontend."""
    if not text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    if not any(c in text for c in "<]!`~") and not _MATH_LINK.search(text):
        return text  # nothing that could become HTML, a link, an image or code
    # First escape tags until the structure stops changing: an HTML block hides the fences
    # and indented code after it, which show up once it is escaped.
    try:
        parsed = text
        tokens = _parser().parse(text)  # the full parse: reused to verify when nothing changes
        for _ in range(8):
            escaped = _rewrite(text, tokens, final=False)
            if escaped == text:
                break
            text = escaped
            tokens = _parser(inline=False).parse(text)
        else:
            return _escape_everything(text)
        out = _rewrite(text, tokens, final=True)
        if _verified(out, tokens if out == parsed else None):
            return out
    except Exception:  # a parser bug on hostile input (markdown-it-py can raise IndexError)
        pass
    return _escape_everything(text)  # fail closed: shown as plain text


def _rewrite(text: str, tokens: list[Any], *, final: bool) -> str:
    lines = text.split("\n")
    out: list[str] = []
    line = 0
    for token in tokens:
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        start, end = token.map
        if start > line:
            out.append(_prose("\n".join(lines[line:start]), final=final))
        if not final:
            out.extend(lines[start:end])
            line = end
            continue
        block = _code_block(token, lines[start:end], top_level=token.level == 0)
        if block.startswith("\n") and (start == 0 or not lines[start - 1].strip()):
            block = block[1:]
        if block.endswith("\n") and (end >= len(lines) or not lines[end].strip()):
            block = block[:-1]
        out.append(block)
        line = end
    if line < len(lines):
        out.append(_prose("\n".join(lines[line:]), final=final))
    return "\n".join(out)


def _code_block(token: Any, source: list[str], *, top_level: bool) -> str:
    """A code block, written so that every parser sees the same code block.

    Top-level fences are rewritten in one exact form (JupyterLab protects the ``$`` in them
    from its math extraction only in that form). Harmful-if-not-code content keeps a fence
    only where nothing can make a parser disagree about its extent: at the top level, set apart
    by blank lines, with an info string, with no fence-like line or math delimiter inside.
    Otherwise it becomes a one-line ``<pre>`` of escaped text (no highlighting, same text).
    """
    content: str = token.content
    fenced = token.type == "fence"
    info = _clean_info(token.info) if fenced else ""
    dangerous = _dangerous(content)
    if top_level and (fenced or dangerous):
        body = [content[:-1] if content.endswith("\n") else content] if content else []
        if not dangerous:
            return "\n".join([token.markup + info, *body, token.markup])
        if not (
            _BLOCK_MATH.search(content)
            or _FENCE_INSIDE.search(content)
            or info.startswith("mermaid")
        ):
            longest = max((len(m) for m in re.findall(r"`+", content)), default=0)
            fence = "`" * max(3, longest + 1)
            return "\n".join(["", fence + (info or "text"), *body, fence, ""])
    elif not dangerous:
        if fenced:  # in a list item or quote: only its info string is rewritten
            at = source[0].find(token.markup)
            source = [source[0][:at] + token.markup + info, *source[1:]]
        return "\n".join(source)
    first = source[0]
    if fenced:
        prefix = first[: first.find(token.markup)]
    else:
        head = content.split("\n", 1)[0]
        prefix = first[: len(first) - len(head)] if head and first.endswith(head) else ""
        prefix = prefix[:-4] if prefix.endswith("    ") else prefix.rstrip()
    return prefix + _pre_html(content, info)


def _prose(text: str, *, final: bool = True, spans: bool = True) -> str:
    """Text outside code blocks: escape tags, keep code spans, check link and image targets
    (``final``; the first passes only escape tags)."""
    if "<" not in text and (
        not final or not (any(c in text for c in ']!`"') or _MATH_LINK.search(text))
    ):
        return text
    math = _math_spans(text) if spans and _MATH_MARK.search(text) else ()
    pictures: set[int] = set()  # the `]` of data: images kept as images
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _ASCII_PUNCT:
            out.append("&lt;" if text[i + 1] == "<" else text[i : i + 2])
            i += 2
        elif c == "`" and spans:
            j = i
            while j < n and text[j] == "`":
                j += 1
            close = _closing_run(text, j, j - i)
            if close is None:
                out.append(text[i:j])
                i = j
                continue
            content = text[j:close]
            if not final or not _dangerous(content):
                out.append(text[i : close + j - i])
            elif "\n" not in content:
                out.append(_code_html(content))
            else:  # a code span over several lines: escaped as text (may show &lt; in code)
                out.append(text[i:j] + _prose(content, spans=False) + text[close : close + j - i])
            i = close + j - i
        elif c == "<" and i + 1 < n and text[i + 1] in _TAG_START:
            out.append("\\lt " if any(a <= i < b for a, b in math) else "&lt;")
            i += 1
        elif not final:
            out.append(c)
            i += 1
        elif c == "!" and text.startswith("[", i + 1):
            kept, close = _image(text, i)
            if close is not None:
                pictures.add(close)
            out.append(kept)
            i += 2
        elif c == "]" and i not in pictures:
            j = i + 1
            while j < n and text[j] in " \t":
                j += 1
            if j < n and text[j] in "(:" and not _SAFE_URL.match(_destination(text, j + 1)):
                out.append(text[i:j] + "\\" + text[j])  # `]\(` / `]\:`: shown, never a link
                i = j + 1
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    result = "".join(out)
    if final and '"' in result:
        result = _QUOTED_FENCE.sub(lambda m: m.group(0).replace('"', "&quot;"), result)
    if final and "\\" in result:  # MathJax's \href{javascript:…}: a link once typeset
        result = _MATH_LINK.sub(lambda m: "\\" + m.group(0), result)
    return result


def _closing_run(text: str, start: int, length: int) -> int | None:
    """Where the backtick run of exactly ``length`` closing a code span begins, or None
    (a code span never crosses a blank line)."""
    i, n = start, len(text)
    blank = _BLANK_LINE.search(text, start)
    end = blank.start() if blank else n
    while True:
        i = text.find("`", i, end)
        if i < 0:
            return None
        j = i
        while j < n and text[j] == "`":
            j += 1
        if j - i == length:
            return i
        i = j


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _destination(text: str, i: int) -> str:
    """The link destination starting at ``text[i]`` (just after ``(`` or ``:``)."""
    j, n = i, len(text)
    newline = False
    while j < n and text[j] in " \t\n":
        if text[j] == "\n":
            if newline:
                break
            newline = True
        j += 1
    return text[j : j + 40]  # an <angle-bracket> target is refused: it starts with "<"


def _image(text: str, i: int) -> tuple[str, int | None]:
    """``![`` at ``text[i]``: a data: picture stays an image (returns its ``]``); a remote
    image becomes a link ``[🖼 alt](url)``; anything else (reference images) is shown as text."""
    close = _matching_bracket(text, i + 1)
    if close is not None and close + 1 < len(text) and text[close + 1] == "(":
        target = _destination(text, close + 2)
        if _DATA_IMAGE.match(target):
            return "![", close
        if _SAFE_URL.match(target):
            return "[🖼 ", None
    return "!\\[", None


def _matching_bracket(text: str, i: int) -> int | None:
    depth, j, n = 0, i, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
        elif c == "\n" and text.startswith("\n", j + 1):
            return None  # a blank line ends the paragraph
        j += 1
    return None


_MATH_SPLIT = re.compile(
    r"(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\[{}$]|[{}]|(?:\n\s*)+|@@\d+@@|\\\\[()\[\]])", re.I
)
_MATH_FENCE = re.compile(r"^(`{3,}|~{3,})[^`\n]*\n[\s\S]*?^\1`*$", re.M)
_MATH_CODE = re.compile(r"(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)", re.M)


def _math_spans(text: str) -> list[tuple[int, int]]:
    """Where JupyterLab (removeMath) finds math: there a ``<`` is written ``\\lt``."""
    masked = list(text)
    for pattern in (_MATH_FENCE, _MATH_CODE):
        for match in pattern.finditer(text):
            for k in range(match.start(), match.end()):
                if masked[k] == "$":
                    masked[k] = "D"
    source = "".join(masked)
    spans: list[tuple[int, int]] = []
    start: int | None = None
    end_mark = ""
    braces = 0
    last: int | None = None
    for match in _MATH_SPLIT.finditer(source):
        tok, at = match.group(0), match.start()
        if start is not None:
            if tok == end_mark:
                if braces:
                    last = match.end()
                else:
                    spans.append((start, match.end()))
                    start, last = None, None
            elif re.search(r"\n.*\n", tok):
                if last is not None:
                    spans.append((start, last))
                start, last, braces = None, None, 0
            elif tok == "{":
                braces += 1
            elif tok == "}" and braces:
                braces -= 1
        elif tok in ("$", "$$"):
            start, end_mark, braces = at, tok, 0
        elif tok.startswith("\\\\") and tok[-1] in "([":
            start, end_mark, braces = at, "\\\\" + (")" if tok[-1] == "(" else "]"), 0
        elif tok[1:6] == "begin":
            start, end_mark, braces = at, "\\end" + tok[6:], 0
    if start is not None and last is not None:
        spans.append((start, last))
    return spans


_OUR_HTML = re.compile(r'^(?:</?code>|<pre><code(?: class="language-[A-Za-z0-9_+#.-]+")?>.*)$')


def _verified(markdown: str, tokens: list[Any] | None = None) -> bool:
    """Parse what we made and check it: no raw HTML but ours, no link or image we did not
    mean, and every code region that would be harmful as text in a form no parser misreads."""
    for token in tokens if tokens is not None else _parser().parse(markdown):
        if token.type == "html_block" and not _OUR_HTML.match(token.content.strip()):
            return False
        if token.type == "code_block" and _dangerous(token.content):
            return False
        if token.type == "fence" and not _fence_ok(token):
            return False
        for child in token.children or ():
            if child.type == "html_inline" and not _OUR_HTML.match(child.content):
                return False
            if child.type == "code_inline" and _dangerous(child.content):
                return False
            if child.type == "link_open" and not _SAFE_URL.match(child.attrGet("href") or ""):
                return False
            if child.type == "image" and not _DATA_IMAGE.match(child.attrGet("src") or ""):
                return False
    return True


def _fence_ok(token: Any) -> bool:
    if token.info != _clean_info(token.info):
        return False
    content = token.content
    return not _dangerous(content) or (
        token.level == 0
        and bool(token.info)
        and not token.info.startswith("mermaid")
        and not _BLOCK_MATH.search(content)
        and not _FENCE_INSIDE.search(content)
    )


def _escape_everything(text: str) -> str:
    return _pre_html(text, "")


# ------------------------------------------------------------------------------ HTML
_HTML_TAGS = frozenset(
    (
        *("a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup"),
        *("dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark"),
        *("ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary"),
        *("sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var"),
    )
)
_HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start", "type"},
    "details": {"open"},
    "abbr": {"title"},
    "time": {"datetime"},
    "col": {"span"},
}


def _html_url(tag: str, attribute: str, value: str) -> str | None:
    if (tag, attribute) == ("a", "href"):
        return value if _SAFE_URL.match(value.strip()) else None
    if (tag, attribute) == ("img", "src"):
        return value if _DATA_IMAGE.match(value.strip()) else None
    return value


def safe_html(html: str) -> str:
    """``-f html``: ordinary formatting, tables and http(s)/mailto links survive; scripts,
    handlers, styles, forms, frames, remote images and every other URL scheme do not."""
    import nh3

    clean = nh3.clean(
        html,
        tags=set(_HTML_TAGS),
        attributes={tag: set(names) for tag, names in _HTML_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto", "data"},
        attribute_filter=_html_url,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _IMAGE_WITHOUT_SOURCE.sub("", clean)  # its remote source was dropped: no broken icon


def markdown_html(text: str) -> str:
    """Untrusted Markdown as HTML (a grid's cell, where Markdown cannot go): made safe as
    Markdown first, rendered with raw HTML off, then through the same allowlist as ``-f html``."""
    if not text:
        return ""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    return safe_html(md.render(safe_markdown(text)))


def safe_token_html(html: str) -> str:
    """``--logprobs``' shaded tokens: the allowlist of ``safe_html`` plus, on ``span`` and
    ``div``, a ``title`` and ``data-`` numbers, and a ``style`` that may only set a background
    colour or the white-space rule (no ``url()`` can load through them)."""
    import nh3

    attributes = {tag: set(names) for tag, names in _HTML_ATTRIBUTES.items()}
    attributes["span"] = {"style", "title", "data-p", "data-logprob"}
    attributes["div"] = {"style", "data-qwen"}
    return nh3.clean(
        html,
        tags=set(_HTML_TAGS),
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        attribute_filter=_html_url,
        link_rel="noopener noreferrer",
        strip_comments=True,
        filter_style_properties={"background-color", "white-space"},
    )


# nh3's output is normalized (attributes quoted, ">" escaped in values): a regex can read it.
_IMAGE_WITHOUT_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


# ------------------------------------------------------------------------------ terminal
# CSI/OSC/DCS... escape sequences, then any other C0/C1 control but newline and tab.
_TERMINAL_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # other escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def plain_text(text: str) -> str:
    """Model text for a terminal: no escape sequence reaches it, newlines and tabs stay."""
    return _TERMINAL_CONTROLS.sub("", text)
