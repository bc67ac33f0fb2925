"""Markdown that is still being written: keep it looking right mid-stream."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def open_fence(text: str) -> str | None:
    """The fence (e.g. ```` ``` ````) left open at the end of ``text``, or None."""
    opener = open_fence_line(text)
    return None if opener is None else _FENCE.match(opener).group(1)  # type: ignore[union-attr]


def open_fence_line(text: str) -> str | None:
    """The whole line (with its language) that opened a code block still open, or None."""
    current: str | None = None
    opener: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        if current is None:
            current, opener = marker, line
        elif (
            marker[0] == current[0]
            and len(marker) >= len(current)
            and not line.strip()[len(marker) :].strip()
        ):
            current = opener = None
    return opener


def close_open_fence(text: str) -> str:
    """Close a code block the stream has not closed yet, so it renders as code."""
    fence = open_fence(text)
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence


def split_stable(text: str, min_tail: int = 2000) -> tuple[str, str]:
    """Split into (finished blocks, growing tail) at a blank line outside any code block.

    Only splits when the tail would otherwise exceed ``min_tail`` characters, so short answers
    stay one block; the finished part never changes again, so it is rendered once.
    """
    if len(text) <= min_tail:
        return "", text
    cut = text.rfind("\n\n", 0, len(text) - min_tail // 2)
    while cut > 0:
        head = text[: cut + 2]
        if open_fence(head) is None:
            return head, text[cut + 2 :]
        cut = text.rfind("\n\n", 0, cut)
    return "", text


_TABLE_ROW = re.compile(r"^ {0,3}\|")
_TABLE_RULE = re.compile(r"^ {0,3}\|?(?: *:?-+:? *\|)+ *:?-*:? *$")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_SENTENCE = re.compile(r"[.!?:;][)\]\"'*_]*[ \t]+(?=[A-Z])")
_WORD = re.compile(r"[ \t]+(?=[A-Za-z])")


@dataclass(frozen=True)
class Cut:
    """Where a growing text can be frozen: ``head`` renders once, on its own, as it will stay;
    ``used`` characters of the text are done; ``carry`` starts the tail (a code block's fence
    reopened, a table's header row repeated) so the rest renders as it would have."""

    head: str
    used: int
    carry: str = ""


def freeze_cut(text: str, piece: int = 1000) -> Cut | None:
    """The latest place at least ``piece`` characters in where ``text`` can be cut for good.

    A long answer must not be re-sent whole at every refresh, whatever its shape: it is cut
    between blocks, between list items, between table rows (the header goes on with the rest),
    inside a code block (closed here, reopened in the tail), and inside a long paragraph at a
    sentence end (or, in a paragraph with none, between words) where no inline mark is open.
    Nothing is cut in the last, unfinished line, except before a paragraph's newest words.
    """
    if len(text) <= piece:
        return None
    best: Cut | None = None
    opener: str | None = None  # the line that opened the code block we are in
    table: str | None = None  # header + rule of the table we are in
    rule_next = False  # the line is a table's rule row
    in_list = False
    para: _Paragraph | None = None
    pos = 0
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        end = pos + len(line)
        complete = line.endswith("\n")
        bare = line.rstrip("\n")
        fence = _FENCE.match(bare)
        if opener is not None:
            marker = _FENCE.match(opener).group(1)  # type: ignore[union-attr]
            if (
                fence is not None
                and fence.group(1)[0] == marker[0]
                and len(fence.group(1)) >= len(marker)
                and not bare.strip()[len(fence.group(1)) :].strip()
            ):
                opener = None
                if complete and end >= piece:
                    best = Cut(text[:end], end)
            elif complete and end >= piece:
                best = Cut(text[:end] + marker, end, opener.rstrip("\n") + "\n")
            pos = end
            continue
        if not complete:  # the last line, still being written
            if para is None and _plain_start(bare) and not in_list and table is None:
                para = _Paragraph(pos)
            if para is not None:
                best = para.cut(text, pos, piece, best, finished=False)
            break
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if table is not None and not _TABLE_ROW.match(bare):
            table = None
        if rule_next:  # a table's rule row: the table goes on
            rule_next = False
        elif fence is not None:
            opener, table, in_list, para = line, None, False, None
        elif not bare.strip():
            table, in_list, para = None, False, None
            if end >= piece:
                best = Cut(text[:end], end)
        elif table is not None:
            if end >= piece:
                best = Cut(text[:end], end, table)
        elif _TABLE_ROW.match(bare) and _TABLE_RULE.match(following.rstrip("\n")):
            table = line + following if following.endswith("\n") else None
            rule_next, in_list, para = True, False, None
            if pos >= piece:
                best = Cut(text[:pos], pos)
        elif _LIST_ITEM.match(bare):
            if in_list and pos >= piece:
                best = Cut(text[:pos], pos)
            in_list, para = True, None
        elif _HEADING.match(bare):
            para = None
            if pos >= piece:
                best = Cut(text[:pos], pos)
            if end >= piece:
                best = Cut(text[:end], end)
        elif not in_list:
            if para is None:
                para = _Paragraph(pos)
            best = para.cut(text, pos, piece, best, finished=True, end=end)
        pos = end
    return best


class _Paragraph:
    """Cuts inside one paragraph: after a sentence (or, in a paragraph without any, between
    words), where no inline mark is open (counted as the lines come, never re-scanned)."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.marks = _Marks()
        self.counted = start  # text[start:counted] is in self.marks

    def cut(
        self,
        text: str,
        line_start: int,
        piece: int,
        best: Cut | None,
        *,
        finished: bool,
        end: int | None = None,
    ) -> Cut | None:
        end = len(text) if end is None else end
        gaps = list(_SENTENCE.finditer(text, line_start, end))
        if not gaps and end - self.start > 2 * piece:  # no sentence end in sight: words
            gaps = list(_WORD.finditer(text, line_start, end))
        for match in gaps:
            self.marks.add(text, self.counted, match.start())
            self.counted = match.start()
            if match.start() < piece or (not finished and match.end() >= end - 1):
                continue  # too early, or the next word has only begun
            long = match.start() - self.start > 4 * piece  # a mark left open: cut anyway
            if self.marks.closed() or long:
                stop = match.start() + len(match.group(0).rstrip(" \t"))
                best = Cut(text[:stop] + "\n", match.end())
        return best


class _Marks:
    """Counts of the inline marks that must be closed before a paragraph can be cut."""

    def __init__(self) -> None:
        self.ticks = self.dollars = self.strong = self.strike = self.brackets = 0

    def add(self, text: str, start: int, stop: int) -> None:
        part = text[start:stop]
        self.ticks += part.count("`")
        self.dollars += part.count("$")
        self.strong += part.count("**") + part.count("__")
        self.strike += part.count("~~")
        self.brackets += part.count("[") - part.count("]")

    def closed(self) -> bool:
        return (
            not (self.ticks % 2 or self.dollars % 2 or self.strong % 2 or self.strike % 2)
            and self.brackets == 0
        )


def _plain_start(line: str) -> bool:
    """Does ``line`` go on a paragraph as plain words (no block of its own starts here)?"""
    return bool(line[:1].isalpha()) and not _LIST_ITEM.match(line)


def live_tail(text: str) -> str:
    """The growing tail as it should look mid-stream: an open code block closed, and a table
    header whose rule row has not arrived held back (it would show as a line of pipes)."""
    lines = text.split("\n")
    last = len(lines) - 1
    held = 0
    if _TABLE_ROW.match(lines[last]) and (last == 0 or not _TABLE_ROW.match(lines[last - 1])):
        held = 1  # a header row still being written
    elif (
        last >= 1
        and _TABLE_ROW.match(lines[last - 1])
        and (last == 1 or not _TABLE_ROW.match(lines[last - 2]))
        and re.fullmatch(r" {0,3}\|?[ :|-]*", lines[last])
    ):
        held = 2  # the header, and its rule row still being written
    if held and open_fence("\n".join(lines[: last + 1 - held])) is None:
        text = "\n".join(lines[: last + 1 - held])
    return close_open_fence(text)


def fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence long enough not to be closed by the text itself."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"
