"""Write docs/security.md (threat model, guarantees, limits, tried/survived figures) and
docs/reliability.md (the fault matrix) from one run of the hostile test suites.

    python scripts/security_figures.py                 # both pages (browser family skipped)
    python scripts/security_figures.py --with-browser  # also JupyterLab in Chromium (minutes)
    python scripts/security_figures.py --reliability-only

The figures are counted by this script, not by a test: it runs pytest once (``sys.executable
-m pytest``) with itself loaded as a small plugin (``-p security_figures``) that keeps only the
cases of each family and records each case's outcome. A case *survived* when it passed. Test
files are found by name anywhere under tests/, so they may move into subfolders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
OUT_ENV = "QWEN_MAGIC_SECURITY_FIGURES_OUT"  # where the plugin writes the outcomes (JSON)


@dataclass(frozen=True)
class Family:
    key: str
    party: str  # model | server | namespace | harness
    name: str
    tried: str  # what is tried, one line for the table
    files: tuple[str, ...]  # test file names, found anywhere under tests/; "name::regex" keeps
    # only the tests whose function name matches (for files that test more than this family)
    browser: bool = False


FAMILIES: tuple[Family, ...] = (
    Family(
        "answers",
        "model",
        "Hostile answers",
        "tags, handlers, URL schemes, Markdown link/image syntax, entity tricks and code that "
        "parsers disagree on, in answers, reasoning, `-f html`, chat histories, server errors "
        "and model lists; streamed whole and one character per chunk (every prefix checked); "
        "seeded random mixes; read by markdown-it-py and nbconvert's mistune as a browser would",
        ("test_hostile_answers.py",),
    ),
    Family(
        "browser",
        "model",
        "Hostile answers in a real browser",
        "one case, in JupyterLab (Chromium): 41 payloads (28 Markdown, 4 reasoning, 9 `-f html`) "
        "live, static, in the saved notebook reopened and in nbconvert HTML, plus 300 seeded "
        "random mixes through JupyterLab's own Markdown renderer; whether anything ran, and "
        "any active element left in the page",
        ("test_hostile_jupyterlab.py",),
        browser=True,
    ),
    Family(
        "key_secrecy",
        "server",
        "Key secrecy",
        "an echoing server sends the key back in every field (answer, reasoning, ids, request "
        "id body/header, error code/type/param/message, mid-stream error, a 300-character cut, "
        "model ids), verbatim and escaped, on 3 APIs; keys with stray characters; "
        "`%xmode Verbose`; saved chats; the terminal",
        ("test_key_secrecy.py",),
    ),
    Family(
        "key_destination",
        "server",
        "Key destination",
        "crafted base URLs (userinfo, backslash, whitespace, control/non-ASCII, fragments, "
        "parser disagreements), workspaces that are not a host label, look-alike hosts, "
        "plain http, cross-host redirects (sync and async clients)",
        ("test_key_destination.py",),
    ),
    Family(
        "servers",
        "server",
        "Hostile servers",
        "12 protocol-breaking replies × 3 APIs (empty stream, `[DONE]` first, JSON for a "
        "stream, `{}`, string counts, `content: 123`, `choices: [null]`, invalid UTF-8, proxy "
        "502 page, 10 MB event, clean close, trickled frame); Stop/interrupt before the first "
        "byte (in a real kernel too); retries, the deadline, the size cap",
        ("test_hostile_servers.py",),
    ),
    Family(
        "faults",
        "server",
        "Fault matrix",
        "18 faults × 3 APIs: every documented error body, refused connection, stall, stream "
        "cut or broken mid-answer, empty answer, token limit, split UTF-8 "
        "(see [reliability.md](reliability.md))",
        ("test_fault_matrix.py",),
    ),
    Family(
        "media",
        "namespace",
        "Bounded inputs",
        "`-i`/`--video` on `/dev/zero`, a FIFO, a file that lies about its size, a 1 GB video, "
        "huge images, a pixel bomb, a big JPEG",
        ("test_media_limits.py",),
    ),
    Family(
        "interpolation",
        "namespace",
        "Interpolation",
        "`{exit()}`, `{__import__('os').system(…)}`, calls, operators, dunders in prompts "
        "and `-i {…}`, with and without `--eval`; undefined names; reads that fail",
        ("test_interpolate.py", r"test_magics.py::call|shell_command|undefined"),
    ),
    Family(
        "chat_files",
        "namespace",
        "Chat files",
        "wrong types in every field, deep nesting, damaged JSON, devices, FIFOs and folders, "
        "`save` over a file that is not a chat (the valid file as a control)",
        (r"test_chats.py::chat_file|deeply_nested|damaged|save_never|save_refuses",),
    ),
    Family(
        "options",
        "namespace",
        "Option validation",
        "bad options and values (`-m ''`, negative retries, `-o get_ipython`, …) in the cell "
        "and in `%config`/config files: a UsageError before any request",
        (
            r"test_magics.py::bad_input|bad_config_value|bad_value_in_the_configuration|"
            r"empty_prompt|out_may_name|missing_key",
        ),
    ),
    Family(
        "emulator",
        "harness",
        "The hostile server itself",
        "each hostile fault is really on the wire, on all three protocols (read byte for byte "
        "with http.client): a check of the test harness, not of qwen_magic",
        ("test_emulator_hostile.py",),
    ),
)


FAMILY_NAMES = {f.key: f.name for f in FAMILIES}


def family_of(path: Path, function: str, browser: bool) -> Family | None:
    """The family a collected test belongs to, or None (not counted, deselected)."""
    for family in FAMILIES:
        if family.browser and not browser:
            continue
        for entry in family.files:
            name, _, select = entry.partition("::")
            if path.name == name and (not select or re.search(select, function)):
                return family
    return None


# ------------------------------------------------------------------------- the pytest plugin


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    browser = os.environ.get(OUT_ENV + "_BROWSER") == "1"
    keep, drop = [], []
    for item in items:
        function = getattr(item, "originalname", None) or item.name.split("[")[0]
        family = family_of(Path(item.path), function, browser)
        if family is None:
            drop.append(item)
        else:
            _FAMILIES_OF[item.nodeid] = family.key
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_runtest_logreport(report: Any) -> None:
    family = _FAMILIES_OF.get(report.nodeid)
    entry = _OUTCOMES.setdefault(report.nodeid, {"outcome": "passed", "family": family})
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"
        entry["reason"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""


def pytest_sessionfinish(session: Any) -> None:
    out = os.environ.get(OUT_ENV)
    if out:
        Path(out).write_text(json.dumps(_OUTCOMES, indent=1))


_OUTCOMES: dict[str, dict[str, Any]] = {}  # nodeid -> {"outcome", "family", "reason"}
_FAMILIES_OF: dict[str, str] = {}  # nodeid -> family key


# ------------------------------------------------------------------------------ the script


def find(name: str) -> list[Path]:
    return sorted(p for p in (REPO / "tests").rglob(name) if "__pycache__" not in p.parts)


def browser_missing() -> str | None:
    """Why the browser family cannot run here, or None."""
    missing = []
    if not Path("/usr/bin/chromium").exists():
        missing.append("/usr/bin/chromium (bash scripts/install-browser.sh)")
    for module in ("playwright", "jupyterlab", "nbformat"):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} (pip install -e '.[browser]')")
    return ", ".join(missing) or None


def run_suites(families: list[Family], browser: bool, figures: bool) -> dict[str, Any]:
    names = {entry.partition("::")[0] for f in families for entry in f.files}
    files = sorted({p for name in names for p in find(name)})
    if not files:
        sys.exit("security_figures: no test files found under tests/")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "outcomes.json"
        env = dict(os.environ)
        env[OUT_ENV] = str(out)
        env[OUT_ENV + "_BROWSER"] = "1" if browser else "0"
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        if figures:
            env["QWEN_MAGIC_FIGURES"] = "1"  # the fault matrix writes docs/reliability.md
        command = [sys.executable, "-m", "pytest", "-p", Path(__file__).stem, "-p",
                   "no:cacheprovider", "-q", "-rfE", *map(str, files)]  # fmt: skip
        print("security_figures: running", " ".join(str(c) for c in command[3:]), flush=True)
        proc = subprocess.run(command, cwd=REPO, env=env)
        if not out.exists():
            sys.exit(f"security_figures: pytest ended ({proc.returncode}) without outcomes")
        return json.loads(out.read_text())


def count(outcomes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {
        f.key: {"tried": 0, "survived": 0, "skipped": 0, "failed": []} for f in FAMILIES
    }
    for nodeid, entry in outcomes.items():
        row = table.get(entry.get("family") or "")
        if row is None:
            continue
        if entry["outcome"] == "skipped":
            row["skipped"] += 1
            row["skip_reason"] = entry.get("reason", "")
            continue
        row["tried"] += 1
        if entry["outcome"] == "passed":
            row["survived"] += 1
        else:
            row["failed"].append(nodeid)
    return table


PARTIES = {
    "model": "Untrusted model output",
    "server": "Untrusted servers",
    "namespace": "The user's own namespace",
    "harness": "Test harness",
}

THREAT_MODEL = """\
# Security

What qwen_magic defends against, what it guarantees, what it does not, and how much of it the
test suite tried. The figures at the end are produced by a script, not by a test.

## Threat model

Three parties can hand qwen_magic something hostile:

1. **Untrusted model output.** Answers and reasoning (and, as they arrive, tool results and
   search snippets) are written by a model that may have read a prompt-injected page or file,
   or by a compromised endpoint. Anything it writes can be aimed at the notebook's browser
   origin (which holds the kernel), at the user's data (an image URL that carries it away), or
   at the terminal (escape sequences).
2. **Untrusted servers.** Any `--base-url` (a local vLLM or Ollama, a gateway), a proxy on the
   way, a compromised or buggy endpoint, or a server that echoes what it received, the key
   included. It may break its protocol in any way, stall, trickle bytes, send gigabytes, or
   redirect elsewhere.
3. **The user's own namespace.** What a prompt reaches on the user's side: `{expr}` filled from
   the kernel's variables, files named with `-i`/`--video`, chat files loaded with
   `%qwencmd load`, options and `%config` values. These are the user's, but a prompt copied
   from elsewhere (or a file name from a glob) should not make the kernel act, hang or run out
   of memory.

## What qwen_magic guarantees

**Model output never runs.** Everything a model or a server writes — answers, reasoning,
`-f html`, chat histories, error messages, `%qwencmd` tables — goes through one sanitizer
(`qwen_magic/render/safe.py`) before any frontend renders it, live and static: raw HTML in
Markdown is shown as text, links go only to `http(s)://`, `mailto:` or `#…`, remote images
become links (only inline `data:` pictures are shown), code regions are written so that no
Markdown parser (marked in JupyterLab, markdown-it in VS Code, mistune in nbconvert) can
disagree about where code ends, `-f html` passes the nh3 allowlist sanitizer, and terminal
output loses its control sequences. `Result.text` and `Result.reasoning` keep the text exactly
as it came; only what is shown is sanitized.

**The key stays secret and goes only where the user meant.** The key is held as a `Secret`
whose `repr` is its mask (`sk-…f3a9`), so verbose tracebacks and debuggers show the mask. Every
key used in the session is masked wherever a server could echo it — answer, reasoning, error
code/message/request id (body or header), a mid-stream error, `Result.raw`, model ids — verbatim,
escaped (JSON, URL, repr, HTML, twice) or as a piece of 11 or more characters, masked
*before* any text is cut; a streamed tail that could begin the key waits for the next chunk.
A key with a line break, space, control, invisible or non-ASCII character is refused, naming
its source.
The key is sent only over https to Model Studio hosts, decided with the URL parser of the HTTP
client that connects; a base URL the parsers could read differently (userinfo, backslash,
whitespace, control or non-ASCII characters, a fragment, a percent-encoded host) or a workspace
that is not one host label is refused before any request; another `--base-url` gets a
placeholder unless `send_key_to_base_url` is set; a redirect to another host drops the key.

**A hostile server ends a cell cleanly, in bounded time and memory.** A reply that breaks its
protocol (empty stream, `[DONE]` first, JSON for a stream, `{}`, wrongly typed fields, invalid
UTF-8, no end marker) ends in a short error naming the server, with the partial answer kept
and `_qwen` holding this cell's Result; a proxy's HTML page is named, not shown. A reply may
not pass 256 MB, one event 8 MB, and one event may not take longer than `timeout` to arrive
whole; a `deadline` bounds the whole wait, a read timeout is retried at most once, and the
error says how long it waited and how many attempts it made. Stop or interrupt — even before
the first byte — shuts the socket, and a stopped request is never retried or sent again, on
any API.

**The namespace is read, not run.** `{…}` in a prompt (and in `-i {…}`) is filled only from
names, attributes (no dunders), subscripts and literals; a call or an operator is sent as
written with a note, unless `--eval` or `QwenMagics.interpolate_calls` opts in, and `exit()`
/ `quit()` never run. Media files are stat-ed first, read only if regular files, and never
past their limit (images 50 MB, video the inline limit); images are decoded only up to 64
megapixels, checked from the header. Chat files are read only if regular and at most 256 MB,
every field is type-checked (with the path of the bad field) before use, deep nesting is a
clear error; `save` writes atomically, never into folders or pipes, and never replaces a file
that is not a chat without `--force`. Bad options and `%config` values (`-m ''`, negative
retries, an `-o` name that would shadow IPython's own) are a UsageError before any request.

## Out of scope and known limits

- **A key echoed in a form qwen_magic does not know is not recognised**: base64-encoded,
  reversed, with characters inserted between its letters, or in pieces shorter than 11
  characters. Only keys used in this session are known; a key of fewer than 8 characters is
  taken for a placeholder and not masked.
- **The SDKs' own debug logs are not filtered.** With `DASHSCOPE_LOGGING_LEVEL=debug` the
  dashscope SDK can log the raw replies it reads, and with `OPENAI_LOG=debug` (or any logging
  set to DEBUG) the openai SDK logs the `x-request-id` header: a key a server echoes there is
  shown unmasked. These logs are off by default.
- **Stop during the TCP connect** cannot interrupt the connect itself: the worker thread lives
  until the connection is made (then it is shut before anything is sent) or times out. A
  request the server already received may still be processed and billed there.
- **Reading runs the reader:** `{obj.attr}` or `{d[k]}` can run a property or a
  `__getitem__` — that is how the value is read.
- **Links still work when clicked.** A safe `http(s)` link in an answer can carry data in its
  URL; it acts only when the user clicks it. `-f code` puts code into a new cell, which the
  user runs (or not).
- **What the user does with the raw text** (`display(HTML(_qwen.text))`) is theirs:
  `Result.text` is the unsanitized answer.
- **A model's words can still be wrong or steered**: sanitizing makes them inert, not true.
- Browser execution is tested in JupyterLab and nbconvert HTML (Chromium); Notebook 7 and VS
  Code are covered by the parser-level tests (markdown-it-py), not a real frontend.
"""


def render(table: dict[str, dict[str, Any]], notes: dict[str, str], command: str) -> str:
    lines = [THREAT_MODEL, "## Figures", ""]
    counted = [f for f in FAMILIES if f.party != "harness"]
    tried = sum(table[f.key]["tried"] for f in counted)
    survived = sum(table[f.key]["survived"] for f in counted)
    lines += [
        f"Produced on {dt.date.today().isoformat()} by `{command}`, which runs the suites "
        "below with pytest against the offline emulator (real SDKs over real HTTP) and counts "
        "their cases. Each case is one pytest test (a parametrized one counts once per "
        "parameter) and may try several inputs; it *survived* when it passed.",
        "",
        f"- hostile cases tried: **{tried}**, survived: **{survived} / {tried}** (the "
        "harness check in the last row not counted)",
        "",
        "| party | family | what is tried | tried | survived |",
        "|---|---|---|---|---|",
    ]
    for f in FAMILIES:
        row = table[f.key]
        if f.key in notes and row["tried"] == 0:
            cells = ["not run", "—"]
        else:
            cells = [str(row["tried"]), f"{row['survived']} / {row['tried']}"]
        lines.append(f"| {PARTIES[f.party]} | {f.name} | {f.tried} | " + " | ".join(cells) + " |")
    lines += ["", "Where each family lives (a `::pattern` keeps the matching tests of a file):", ""]
    for f in FAMILIES:
        lines.append(f"- {f.name}: " + ", ".join(f"`{entry}`" for entry in f.files))
    extra = [f"{FAMILY_NAMES[key]}: {note}" for key, note in notes.items()]
    for f in FAMILIES:
        row = table[f.key]
        if row["skipped"]:
            extra.append(
                f"{f.name}: {row['skipped']} case(s) skipped ({row.get('skip_reason', '')})."
            )
        for nodeid in row["failed"]:
            extra.append(f"{f.name}: **did not survive**: `{nodeid}`.")
    if extra:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in extra]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/security_figures.py",
        description="Run the hostile test suites and write docs/security.md (threat model and "
        "tried/survived figures) and docs/reliability.md (the fault matrix).",
    )
    parser.add_argument(
        "--with-browser",
        action="store_true",
        help="also run the JupyterLab/Chromium family (takes a few minutes)",
    )
    parser.add_argument(
        "--reliability-only",
        action="store_true",
        help="only rerun the fault matrix and rewrite docs/reliability.md",
    )
    args = parser.parse_args(argv)

    notes: dict[str, str] = {}  # family key -> why it was not run
    browser = args.with_browser
    if browser and (why := browser_missing()):
        notes["browser"] = f"not run: missing {why}."
        browser = False
    elif not browser:
        notes["browser"] = (
            "not run in this pass (it takes a few minutes): "
            "`python scripts/security_figures.py --with-browser` includes it."
        )
    families = [f for f in FAMILIES if (browser or not f.browser)]
    if args.reliability_only:
        families = [f for f in FAMILIES if f.key == "faults"]

    reliability = DOCS / "reliability.md"
    before = reliability.stat().st_mtime_ns if reliability.exists() else None
    outcomes = run_suites(families, browser, figures=True)
    after = reliability.stat().st_mtime_ns if reliability.exists() else None
    table = count(outcomes)
    faults = table["faults"]
    if after == before:
        print(
            "security_figures: docs/reliability.md was NOT rewritten (the fault matrix writes "
            "it only when all its cases ran; or the test file moved and writes elsewhere)",
            file=sys.stderr,
        )
    else:
        print(f"security_figures: wrote {reliability.relative_to(REPO)}")
    if args.reliability_only:
        print(f"fault matrix: {faults['survived']} / {faults['tried']} survived")
        return 0 if faults["tried"] == faults["survived"] else 1

    command = "python scripts/security_figures.py" + (" --with-browser" if browser else "")
    page = render(table, notes, command)
    DOCS.mkdir(exist_ok=True)
    (DOCS / "security.md").write_text(page)
    print("security_figures: wrote docs/security.md\n")
    width = max(len(f.name) for f in FAMILIES)
    for f in FAMILIES:
        row = table[f.key]
        print(f"  {f.name:<{width}}  {row['survived']:>4} / {row['tried']:<4} survived"
              + (f"  ({row['skipped']} skipped)" if row["skipped"] else ""))  # fmt: skip
    failed = sum(len(table[f.key]["failed"]) for f in FAMILIES)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
