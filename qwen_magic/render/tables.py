"""Small tables shown both as Markdown (notebooks) and as aligned text (terminals).

Cells come from servers too (model ids, owners): shown literally, never as Markdown or HTML.
"""

from __future__ import annotations

from qwen_magic.render.safe import plain_markdown, plain_text


class Table:
    def __init__(self, rows: list[list[str]], title: str = "") -> None:
        self.rows = rows
        self.title = title

    def _repr_markdown_(self) -> str:
        head, *body = [[plain_markdown(cell) for cell in row] for row in self.rows]
        lines = [f"**{plain_markdown(self.title)}**", ""] if self.title else []
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)

    def __repr__(self) -> str:
        rows = [[plain_text(cell) for cell in row] for row in self.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [plain_text(self.title)] if self.title else []
        for row in rows:
            lines.append(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
            )
        return "\n".join(lines)
