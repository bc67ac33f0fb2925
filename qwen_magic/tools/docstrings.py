"""A docstring's summary and per-argument lines, in the Google, NumPy and reST styles.

``docstring_parser`` does this when it is installed; this small parser covers what tool
functions write (the summary, and one description per argument) without adding a dependency.
"""

from __future__ import annotations

import re

# Sections that list arguments (Google style "Args:", NumPy style "Parameters" underlined).
_ARG_SECTIONS = {
    "args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
    "other parameters", "attributes", "fields",
}  # fmt: skip
_SECTIONS = _ARG_SECTIONS | {
    "returns", "return", "yields", "yield", "raises", "raise", "examples", "example", "notes",
    "note", "see also", "references", "warnings", "warning", "todo", "methods",
}  # fmt: skip
_GOOGLE_HEADER = re.compile(r"([A-Za-z][A-Za-z ]*):\s*")
_GOOGLE_ITEM = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)")
_NUMPY_ITEM = re.compile(r"(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?")
_REST_FIELD = re.compile(r":(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)")
_REST_ARG_FIELDS = {"param", "parameter", "arg", "argument", "key", "keyword", "ivar", "var"}


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """``(summary, {argument: description})`` of a cleaned docstring (``inspect.getdoc``).

    The summary is the text before the first section or field, its paragraphs kept and the
    lines within a paragraph joined."""
    try:
        import docstring_parser  # type: ignore[import-not-found]
    except ImportError:
        return _parse(doc)
    parsed = docstring_parser.parse(doc)
    summary = "\n\n".join(
        part for part in (parsed.short_description, parsed.long_description) if part
    )
    args = {p.arg_name.lstrip("*"): _joined(p.description or "") for p in parsed.params}
    return _joined(summary), {k: v for k, v in args.items() if v}


def _parse(doc: str) -> tuple[str, dict[str, str]]:
    lines = doc.expandtabs().splitlines()
    start = next((i for i in range(len(lines)) if _section_at(lines, i)), len(lines))
    summary = _joined("\n".join(lines[:start]))
    args: dict[str, str] = {}
    i = start
    while i < len(lines):
        kind = _section_at(lines, i)
        if kind is None:
            i += 1
            continue
        style, title = kind
        if style == "rest":
            i = _rest_field(lines, i, args)
        elif style == "google":
            i = _google_section(lines, i + 1, args if title in _ARG_SECTIONS else {})
        else:
            i = _numpy_section(lines, i + 2, args if title in _ARG_SECTIONS else {})
    return summary, {k: v for k, v in args.items() if v}


def _section_at(lines: list[str], i: int) -> tuple[str, str] | None:
    """What starts at line ``i``: a reST field, a Google header, a NumPy header, or nothing."""
    line = lines[i].strip()
    if not line:
        return None
    if _REST_FIELD.fullmatch(line):
        return ("rest", "")
    header = _GOOGLE_HEADER.fullmatch(line)
    if header and header.group(1).strip().lower() in _SECTIONS:
        return ("google", header.group(1).strip().lower())
    underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if line.lower() in _SECTIONS and underline and set(underline) == {"-"}:
        return ("numpy", line.lower())
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _google_section(lines: list[str], i: int, args: dict[str, str]) -> int:
    """Items indented under the header; deeper lines continue the item above."""
    item_indent: int | None = None
    name: str | None = None
    while i < len(lines):
        line = lines[i]
        if line.strip() and _indent(line) == 0:
            return i  # back at the docstring's margin: the section ended
        if line.strip():
            if item_indent is None:
                item_indent = _indent(line)
            match = _GOOGLE_ITEM.fullmatch(line.strip())
            if _indent(line) <= item_indent and match:
                name = match.group(1)
                args[name] = match.group(2).strip()
            elif name is not None:
                args[name] = f"{args[name]} {line.strip()}".strip()
        i += 1
    return i


def _numpy_section(lines: list[str], i: int, args: dict[str, str]) -> int:
    """``name : type`` at the margin, the description indented below it."""
    names: list[str] = []
    while i < len(lines):
        line = lines[i]
        if _section_at(lines, i) is not None:
            return i
        if line.strip() and _indent(line) == 0:
            match = _NUMPY_ITEM.fullmatch(line.strip())
            names = [n.strip().lstrip("*") for n in match.group(1).split(",")] if match else []
            for name in names:
                args.setdefault(name, "")
        elif line.strip():
            for name in names:
                args[name] = f"{args[name]} {line.strip()}".strip()
        i += 1
    return i


def _rest_field(lines: list[str], i: int, args: dict[str, str]) -> int:
    """``:param [type] name: text`` and the lines that continue it."""
    match = _REST_FIELD.fullmatch(lines[i].strip())
    assert match is not None
    kind, rest, text = match.group(1), (match.group(2) or "").split(), match.group(3)
    i += 1
    while i < len(lines) and lines[i].strip() and _section_at(lines, i) is None:
        text = f"{text} {lines[i].strip()}"
        i += 1
    if kind in _REST_ARG_FIELDS and rest:
        args[rest[-1].lstrip("*")] = text.strip()
    return i


def _joined(text: str) -> str:
    """Paragraphs kept, the lines within each joined by spaces."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
