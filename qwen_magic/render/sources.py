"""Web search sources (``--search``): listed under the answer, numbered as the answer's
citation markers (``[ref_1]``), which become links to them.

Titles and URLs come from the service's search: untrusted text. Titles are shown literally,
and only http(s) URLs become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from qwen_magic.render.safe import plain_markdown, plain_text, safe_markdown

MARKER = re.compile(r"\[ref_(\d+)\]")


def _url(url: str) -> str | None:
    """An http(s) URL, with what would end a Markdown link percent-encoded; None otherwise."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url.strip(), safe=":/?#[]@!$&'*+,;=%~-._")


def _by_index(sources: Sequence[Any]) -> dict[int, Any]:
    return {source.index: source for source in sources}


def cite(text: str, sources: Sequence[Any]) -> str:
    """The answer's ``[ref_N]`` markers as links ``[[N]](url)`` to source N (a marker with no
    such source, or no http(s) URL, stays as written)."""
    if not sources or "[ref_" not in text:
        return text
    known = _by_index(sources)

    def link(match: re.Match[str]) -> str:
        source = known.get(int(match.group(1)))
        url = _url(source.url) if source is not None else None
        return f"[\\[{match.group(1)}\\]]({url})" if url else match.group(0)

    return MARKER.sub(link, text)


def _line(source: Any) -> str:
    title = source.title.strip() or source.url
    site = f" — {source.site}" if getattr(source, "site", None) else ""
    return f"{title}{site}"


def sources_markdown(sources: Sequence[Any]) -> list[str]:
    """``**Sources**`` and a numbered list (numbers as the markers), titles as links."""
    if not sources:
        return []
    lines = ["**Sources**", ""]
    for source in sorted(sources, key=lambda s: s.index):
        url = _url(source.url)
        title = plain_markdown(_line(source))
        shown = f"[{title}]({url})" if url else f"{title} ({plain_markdown(source.url)})"
        lines.append(f"{source.index}. {shown}")
    return [safe_markdown("\n".join(lines))]


def sources_plain(sources: Sequence[Any]) -> list[str]:
    if not sources:
        return []
    lines = ["Sources:"] + [
        f"[{s.index}] {_line(s)} <{s.url}>" for s in sorted(sources, key=lambda s: s.index)
    ]
    return [plain_text("\n".join(lines))]


def sources_html(sources: Sequence[Any]) -> str:
    """The numbered list as HTML (the live view, ``-f html``)."""
    if not sources:
        return ""
    items = []
    for source in sorted(sources, key=lambda s: s.index):
        url = _url(source.url)
        title = html.escape(_line(source))
        link = f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url else title
        items.append(f"<li value='{int(source.index)}'>{link}</li>")
    return f"<b>Sources</b><ol>{''.join(items)}</ol>"


def sources_widget() -> Any:
    """A small HTML widget that ``show_sources`` fills when the sources arrive."""
    import ipywidgets as w

    box = w.HTML("")
    box.layout.display = "none"
    return box


def show_sources(widget: Any, sources: Sequence[Any]) -> None:
    value = f"<small>{sources_html(sources)}</small>" if sources else ""
    if widget.value != value:
        widget.value = value
        widget.layout.display = "" if sources else "none"
