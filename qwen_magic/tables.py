"""Small tables shown both as Markdown (notebooks) and as aligned text (terminals)."""

from __future__ import annotations


class Table:
    def __init__(self, rows: list[list[str]], title: str = "") -> None:
        self.rows = rows
        self.title = title

    def _repr_markdown_(self) -> str:
        head, *body = self.rows
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)

    def __repr__(self) -> str:
        widths = [max(len(row[i]) for row in self.rows) for i in range(len(self.rows[0]))]
        lines = [self.title] if self.title else []
        for row in self.rows:
            lines.append(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip()
            )
        return "\n".join(lines)
