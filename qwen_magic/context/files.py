"""``--file PATH``: text, Markdown, CSV, JSON, code and PDF text as labelled context.

Paths and globs (``data/*.csv``, ``notes/**/*.md``) are expanded here; each file is read with
a bound (``qwen_magic.files.read_limited``: regular files only, never more than the limit).
A file is text when it decodes as UTF-8 and holds no NUL byte; images, spreadsheets, archives
and other binary files are refused with what to do instead. PDF text comes from pypdf (the
``[pdf]`` extra).
"""

from __future__ import annotations

import glob
import io
import os
from dataclasses import dataclass
from pathlib import Path

from qwen_magic.errors import QwenUsageError
from qwen_magic.files import FileProblem, read_limited

TEXT_LIMIT = 10 * 1024 * 1024  # bytes read from a text file at most
PDF_LIMIT = 50 * 1024 * 1024
MAX_FILES = 100  # a glob that matches more is refused (attach a narrower one)

# extension → (kind shown on the chip, fence language)
KINDS: dict[str, tuple[str, str]] = {
    ".txt": ("text", ""), ".text": ("text", ""), ".log": ("text", ""), ".rst": ("text", "rst"),
    ".md": ("markdown", "markdown"), ".markdown": ("markdown", "markdown"),
    ".csv": ("csv", "csv"), ".tsv": ("tsv", "tsv"),
    ".json": ("json", "json"), ".jsonl": ("jsonl", "json"), ".ndjson": ("jsonl", "json"),
    ".yaml": ("yaml", "yaml"), ".yml": ("yaml", "yaml"), ".toml": ("toml", "toml"),
    ".ini": ("ini", "ini"), ".cfg": ("ini", "ini"), ".xml": ("xml", "xml"),
    ".html": ("html", "html"), ".htm": ("html", "html"), ".css": ("css", "css"),
    ".py": ("python", "python"), ".pyi": ("python", "python"), ".ipynb": ("notebook", "json"),
    ".r": ("r", "r"), ".jl": ("julia", "julia"), ".sql": ("sql", "sql"), ".sh": ("shell", "bash"),
    ".js": ("javascript", "javascript"), ".ts": ("typescript", "typescript"),
    ".c": ("c", "c"), ".h": ("c", "c"), ".cpp": ("c++", "cpp"), ".hpp": ("c++", "cpp"),
    ".java": ("java", "java"), ".go": ("go", "go"), ".rs": ("rust", "rust"),
    ".rb": ("ruby", "ruby"), ".scala": ("scala", "scala"), ".kt": ("kotlin", "kotlin"),
    ".swift": ("swift", "swift"), ".tex": ("latex", "latex"),
}  # fmt: skip

# binary files a user may try, and what to do instead
INSTEAD: dict[str, str] = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"),
                    "an image goes with -i/--image"),
    **dict.fromkeys((".mp4", ".mov", ".avi", ".mkv", ".webm"), "a video goes with --video"),
    **dict.fromkeys((".xlsx", ".xls", ".parquet", ".feather", ".pkl", ".pickle", ".h5"),
                    "load it into a DataFrame (e.g. df = pd.read_excel(...)) and write {df} "
                    "in the prompt"),
    **dict.fromkeys((".zip", ".gz", ".tar", ".7z", ".bz2", ".xz"), "unpack it and attach the "
                    "text files inside"),
    **dict.fromkeys((".docx", ".pptx", ".odt"), "save it as PDF or text and attach that"),
}  # fmt: skip


@dataclass(frozen=True)
class FileText:
    name: str  # the path as matched
    kind: str  # "csv", "pdf", ...
    language: str  # the fence's language
    text: str
    pages: int | None = None  # PDFs


def expand(patterns: list[str]) -> list[Path]:
    """Every file the patterns name, in order, each once; a pattern naming nothing is an
    error (a typo must not silently send less)."""
    found: list[Path] = []
    for pattern in patterns:
        path = os.path.expanduser(pattern)
        if glob.has_magic(path):
            matches = [Path(p) for p in sorted(glob.glob(path, recursive=True))]
            matches = [p for p in matches if not p.is_dir()]
            if not matches:
                raise QwenUsageError(
                    f"--file {pattern!r} matches no file (from {os.getcwd()}). Check the "
                    "pattern, or give a path."
                )
        elif os.path.isdir(path):
            raise QwenUsageError(
                f"--file {pattern!r} is a folder: attach its files with a glob, e.g. "
                f"--file '{pattern.rstrip('/')}/*.md'."
            )
        elif not os.path.exists(path):
            raise QwenUsageError(
                f"--file {pattern!r}: no such file (from {os.getcwd()}). Check the path."
            )
        else:
            matches = [Path(path)]
        found.extend(p for p in matches if p not in found)
    if len(found) > MAX_FILES:
        raise QwenUsageError(
            f"--file names {len(found):,} files; at most {MAX_FILES} are attached: use a "
            "narrower glob."
        )
    return found


def read_file(path: Path) -> FileText:
    """The text of one file, or a UsageError saying why not and what to do."""
    suffix = path.suffix.lower()
    name = str(path)
    if suffix in INSTEAD:
        raise QwenUsageError(
            f"--file {name} is not a text file: {INSTEAD[suffix]}. --file attaches text, "
            "Markdown, CSV, JSON, code and PDF text."
        )
    if suffix == ".pdf":
        return _pdf(path)
    data = _read(path, TEXT_LIMIT)
    kind, language = KINDS.get(suffix, ("text", ""))
    if b"\0" in data:
        raise QwenUsageError(_binary(name))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise QwenUsageError(_binary(name) + " (it is not UTF-8 text)") from None
    return FileText(name, kind, language, text)


def _binary(name: str) -> str:
    return (
        f"--file {name} looks binary, not text: --file attaches text, Markdown, CSV, JSON, "
        "code and PDF text. Save it as text first, or load it into a variable and write "
        "{name} in the prompt"
    )


def _read(path: Path, limit: int) -> bytes:
    try:
        return read_limited(path, limit)
    except FileProblem as exc:
        raise QwenUsageError(f"--file {path} {exc}.") from None


def _pdf(path: Path) -> FileText:
    if _pypdf_missing():
        raise QwenUsageError(_NO_PYPDF.format(where=f"--file {path}"))
    text, pages = pdf_text(_read(path, PDF_LIMIT), f"--file {path}")
    return FileText(str(path), "pdf", "", text, pages=pages)


_NO_PYPDF = (
    "{where} is a PDF, and reading PDF text needs pypdf: pip install 'qwen-magic[pdf]' (or "
    "pip install pypdf), then run the cell again."
)


def _pypdf_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("pypdf") is None


def pdf_text(data: bytes, where: str) -> tuple[str, int]:
    """A PDF's text, page by page (``--- page N ---``), and its number of pages."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise QwenUsageError(_NO_PYPDF.format(where=where)) from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise QwenUsageError(
                f"{where} is an encrypted PDF: save a copy without a password and attach that."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise QwenUsageError(f"{where} could not be read as a PDF ({exc}).") from None
    if not any(page.strip() for page in pages):
        raise QwenUsageError(
            f"{where} has no text layer (a scanned PDF?): export its pages as images and send "
            "them with -i, or run OCR first."
        )
    text = "\n\n".join(
        f"--- page {number} ---\n{page.strip()}" for number, page in enumerate(pages, 1)
    )
    return text, len(pages)
