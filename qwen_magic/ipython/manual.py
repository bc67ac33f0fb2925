"""The manual of ``%%qwen`` / ``%qwen``, written once.

Every option is declared here, in its group, with one paragraph of help: the magic's argparse
parser is built from it (so ``%qwen?`` is the parser's help, read in JupyterLab's pager as
plain text), and ``scripts/manual.py`` writes the README's option table from the same list.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.magic_arguments import (
    MagicHelpFormatter,
    argument,
    argument_group,
    kwds,
    magic_arguments,
)

from qwen_magic.request import APIS, FORMATS, PRESETS
from qwen_magic.variants import floats, ints


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str  # one paragraph, plain text (shown as is in the pager and the README)
    settings: dict[str, Any] = field(default_factory=dict)  # add_argument's other keywords

    def invocation(self) -> str:
        """How the option is written, e.g. ``-m/--model NAME`` or ``--api chat|responses``."""
        choices = self.settings.get("choices")
        value = "|".join(choices) if choices else self.settings.get("metavar")
        takes_value = self.settings.get("action") not in ("store_true", "store_const")
        if takes_value and value is None:
            value = self.flags[-1].lstrip("-").upper().replace("-", "_")
        names = "/".join(self.flags)
        return f"{names} {value}" if takes_value else names


@dataclass(frozen=True)
class Group:
    title: str
    about: str
    options: tuple[Option, ...]


INTRO = """\
Ask a Qwen model; the answer streams live below the cell.

    %%qwen [options]
    Your prompt, over as many lines as you like.

    %qwen [options] a one-line prompt

In %qwen the options come first and the rest of the line is the prompt, exactly as typed
(use -- before a prompt that starts with -). {name}, {obj.attr}, {seq[0]}, {d["k"]},
{In[3]} and {Out[3]} are filled from your variables; write {{ and }} for literal braces.

The reasoning (when the model thinks) streams into a section that folds away when the
answer starts; a footer shows tokens and timings; Stop ends the answer and keeps what
arrived. When done, the live view is replaced by a static Markdown output, so the saved
notebook reads the same on GitHub or in nbconvert. Run headless (papermill, nbconvert
--execute, nbclient) a cell shows only that static output, so no widget is saved
(display = "auto"; "live" forces the live view). The Result is stored in _qwen (and in
-o NAME): .text, .reasoning, .usage, .error, ... always this cell's Result, even when the
call failed.

Defaults come from %config QwenMagics.<trait> (model, api, region, workspace, base_url,
api_key_env, system, thinking, thinking_param, stream, display, update_interval, timeout,
deadline, max_retries, concurrency, interpolate_calls, explain_errors); each is checked when
set, so a bad value is refused by %config at once. The key is read from $DASHSCOPE_API_KEY
(keys are per region) or set for this session with %qwencmd key; %qwencmd emulator start
answers offline.
Model output is untrusted: raw HTML is shown as text, links go only to http(s)/mailto, and
remote images become links (see the README, Security)."""

EXAMPLES = """\
Examples:

    %qwen -m qwen-plus What is the capital of France?

    %%qwen --think --preset factual_qa -o answer
    Explain why {df.shape[0]} rows might be too few for this model.

    %%qwen -c trip -o r --json
    List three sights in {city} as {{"sights": [...]}}.

    %%qwen --eval
    Summarise this table: {df.head().to_markdown()}

    %%qwen -i photo.jpg -i {fig}
    What changed between the two pictures?

Management commands are in %qwencmd (%qwencmd? lists them)."""

GROUPS = (
    Group(
        "Model & endpoint",
        "Which model answers, through which API, and where the request goes.",
        (
            Option(
                ("-m", "--model"),
                "Model name, e.g. qwen3.5-plus (the default), qwen-plus, qwen3-max. A comma list "
                "(-m qwen-plus,qwen-max) compares the models side by side.",
                {"metavar": "NAME"},
            ),
            Option(
                ("--api",),
                "The protocol and SDK: chat (OpenAI Chat Completions, the default), responses "
                "(OpenAI Responses API) or dashscope (the DashScope SDK: Generation, or "
                "MultiModalConversation for Qwen3.5+/VL/omni models). All three give the same "
                "view and Result.",
                {"choices": APIS},
            ),
            Option(
                ("--region",),
                "sg (Singapore, the default), us (Virginia), cn (Beijing), hk (Hong Kong) or "
                "de (Frankfurt, needs QwenMagics.workspace). Keys are per region.",
                {"metavar": "REGION"},
            ),
            Option(
                ("--base-url",),
                "Any OpenAI-compatible base URL (a vLLM, Ollama or LM Studio server); overrides "
                "--region. Your Model Studio key is not sent to it unless "
                "QwenMagics.send_key_to_base_url is True.",
                {"metavar": "URL"},
            ),
        ),
    ),
    Group(
        "Thinking & sampling",
        "How the model thinks and samples its answer.",
        (
            Option(
                ("--think",),
                "Turn thinking on: enable_thinking=true for Alibaba Cloud; for any other "
                "--base-url (vLLM, SGLang, llama.cpp) chat_template_kwargs.enable_thinking "
                "(%config QwenMagics.thinking_param = auto, enable_thinking, "
                "chat_template_kwargs or both).",
                {"dest": "thinking", "action": "store_const", "const": True},
            ),
            Option(
                ("--no-think",),
                "Turn thinking off (enable_thinking=false, sent as for --think).",
                {"dest": "thinking", "action": "store_const", "const": False},
            ),
            Option(
                ("--thinking-budget",),
                "At most N tokens of thinking (implies --think).",
                {"type": int, "metavar": "N"},
            ),
            Option(
                ("-t", "--temperature"),
                "Sampling temperature in [0, 2); a comma list (-t 0.1,0.9) compares side by side.",
                {"type": floats, "metavar": "X"},
            ),
            Option(
                ("--top-p",),
                "Nucleus sampling in (0, 1]; a comma list compares.",
                {"type": floats, "metavar": "X"},
            ),
            Option(("--max-tokens",), "At most N tokens of answer.", {"type": int, "metavar": "N"}),
            Option(
                ("--seed",),
                "Seed for repeatable sampling; a comma list compares.",
                {"type": ints, "metavar": "N"},
            ),
            Option(
                ("--stop",),
                "A stop sequence (repeatable): the answer ends before it.",
                {"action": "append", "metavar": "S"},
            ),
            Option(
                ("--preset",),
                "The documented temperature/top_p pair for a scenario; an explicit -t or "
                "--top-p wins.",
                {"choices": tuple(PRESETS)},
            ),
            Option(
                ("--logprobs",),
                "Token probabilities: the answer is shown with each token shaded by how likely "
                "the model found it (darker: less likely), its K most likely alternatives on "
                "hover (K 0 to 5; --logprobs alone: 3), and a summary (mean probability, the 5 "
                "least likely tokens); _qwen.logprobs keeps them. With -t 0.1,0.9 the shaded "
                "answers stand side by side. The live view streams plain text; the shading "
                "comes with the final output. Chat and dashscope APIs only (not responses), and "
                "only on models that return them (Model Studio lists snapshots of qwen-plus and "
                "qwen-turbo and the open Qwen3 models): otherwise the output says none came "
                "back.",
                {"type": int, "nargs": "?", "const": 3, "metavar": "K"},
            ),
        ),
    ),
    Group(
        "Media",
        "Images and video sent with the prompt. Local and in-memory media are sent inline as "
        "base64 (nothing is uploaded); URLs are passed as they are. Only regular files are "
        "read (a device or a pipe is refused at once), image files up to 50 MB and 64 "
        "megapixels, video files up to the inline limit, each checked before it is read. "
        "Thumbnails show above the answer, live and in the saved notebook.",
        (
            Option(
                ("-i", "--image"),
                "An image before the prompt (repeatable): a path, a glob ('shots/*.png'), an "
                "http(s) URL, or {name} holding a PIL image, a numpy array (HxW, HxWx3 or HxWx4; "
                "uint8, or floats in [0, 1]), the bytes of an image file, a pathlib.Path, or a "
                "list of these. A {name} in the prompt whose value is an image becomes an image "
                'at that place ("Compare {a} with {b}"). Images over the service\'s limit (10 MB '
                "per item after base64) are downscaled, keeping their aspect and EXIF "
                "orientation.",
                {"action": "append", "metavar": "SRC"},
            ),
            Option(
                ("--video",),
                "A video (repeatable): a file or an http(s) URL, or frames: a glob or folder of "
                "images, or {name} holding a list of images or a TxHxWxC array (4 to 80 frames; "
                "up to 512 for Qwen3-VL and Qwen2.5-VL). The Responses API takes images, not "
                "video.",
                {"action": "append", "metavar": "SRC"},
            ),
        ),
    ),
    Group(
        "Voice",
        "Qwen-Omni models speak their answer and hear audio. Speech comes only through the "
        "chat API (the default) and only streaming: the text streams as usual, and a player "
        "shows the speech when the answer ends (it does not start playing before). The saved "
        "notebook keeps a player whose audio fits about 1 MB (down-sampled to 16 or 8 kHz when "
        "needed); longer speech is saved as a WAV file next to the notebook and linked. "
        "_qwen.audio holds it (.save(path), .wav_bytes, .duration, .sample_rate). In terminal "
        "IPython the speech is saved to a WAV file and its path printed. %qwencmd voices lists "
        "the documented voices.",
        (
            Option(
                ("--voice",),
                "Speak the answer too, in voice NAME (e.g. -m qwen3-omni-flash --voice Cherry). "
                "Needs a Qwen-Omni model and streaming (--no-stream is refused); "
                "qwen-omni-turbo and qwen2.5-omni take no system message while speaking.",
                {"metavar": "NAME"},
            ),
            Option(
                ("--speak",),
                "Speak the answer in the model's default voice (%qwencmd voices).",
                {"action": "store_true"},
            ),
            Option(
                ("-a", "--audio"),
                "Audio sent with the prompt (repeatable): a path or glob (WAV, MP3, M4A, FLAC, "
                "OGG, AAC, AMR...), an http(s) URL, or {name} holding the bytes of an audio file, "
                "(samples, rate) such as (array, 16000), an IPython.display.Audio, or a list of "
                "these. Local audio is sent inline (at most about 7.5 MB a file: 10 MB after "
                "base64); URLs as they are. Qwen-Omni models hear it on the chat and dashscope "
                "APIs, Qwen-Audio models on dashscope; the Responses API takes none. A chat's "
                "later turns keep it.",
                {"action": "append", "metavar": "SRC"},
            ),
        ),
    ),
    Group(
        "Conversation & output",
        "What the model is told, what is kept, and how the answer is shown.",
        (
            Option(
                ("-s", "--system"),
                "The system message for this call (or this chat).",
                {"metavar": "TEXT"},
            ),
            Option(
                ("-c", "--chat"),
                "Continue the named conversation (created on first use). Its turns follow the "
                "cells: re-running a cell replaces that cell's turn and drops the turns after "
                "it, like editing a message in a chat app; a new cell appends. In a chat, later "
                "turns still see earlier images. See %qwencmd chats, history, reset, save and "
                "load.",
                {"metavar": "NAME"},
            ),
            Option(
                ("-o", "--out"),
                "Also store the Result in the variable NAME (_qwen always holds the last one). "
                "Names IPython or Python rely on (get_ipython, exit, In, Out, _, _i3, builtins) "
                "are refused.",
                {"metavar": "NAME"},
            ),
            Option(
                ("--json",),
                "Ask for a JSON object and parse it into Result.data. Thinking is turned off for "
                'it, and a short "reply with JSON" system hint is added when the prompt does not '
                "mention JSON.",
                {"action": "store_true"},
            ),
            Option(
                ("--prefix",),
                "Partial mode: the answer continues TEXT (chat and dashscope APIs).",
                {"metavar": "TEXT"},
            ),
            Option(
                ("--no-stream",),
                "Wait for the whole answer instead of streaming it.",
                {"dest": "stream", "action": "store_const", "const": False},
            ),
            Option(
                ("-q", "--quiet"),
                "Show nothing; the Result is still stored (a failure is still said on stderr).",
                {"action": "store_true"},
            ),
            Option(
                ("-f", "--format"),
                "Show the answer as markdown (the default), text (verbatim) or html; code also "
                "puts the answer's code blocks into a new cell below (with %%bash, %%sql... for "
                "other languages).",
                {"choices": FORMATS},
            ),
            Option(
                ("--raw",),
                "Send the prompt exactly as written: no {name} filling.",
                {"action": "store_true"},
            ),
            Option(
                ("--eval",),
                "Let {expr} in the prompt (and -i {expr}) run calls and operators, e.g. "
                "{len(df)}: your code runs (as %config QwenMagics.interpolate_calls = True "
                "does); exit() and quit() never run. Without it, filling reads data and never "
                "acts: {...} holding a call or an operator is sent as written, with a note on "
                "stderr. Text that is not an expression of defined names (JSON, code, {a, b}) "
                "is left as written; an undefined {word} is an error (write {{word}}, or pass "
                "--raw).",
                {"dest": "interpolate_calls", "action": "store_const", "const": True},
            ),
        ),
    ),
    Group(
        "Many answers",
        "One prompt over your data, or several models and settings side by side. Every "
        "request is built (and checked) before the first is sent; they run concurrently on "
        "one live view with one Stop, which keeps the answers that finished. 429s and "
        "failures before the first token are retried (honouring Retry-After), and fewer run "
        "at once while the service rate-limits; an answer that began streaming is never "
        "retried. -c/--chat can't be combined with these.",
        (
            Option(
                ("--each",),
                "Ask the prompt once per item of NAME: a list, tuple, range, pandas Series, or "
                "DataFrame (one item per row). In the prompt, {item} is the item, {i} its "
                "position (from 0), and for DataFrame rows (or dicts) {row.col} / "
                '{row["col"]} a column. Shows one progress view, then a compact table; -o and '
                "_qwen get a Results in input order (.texts, .errors, .usage, .to_pandas()). "
                "An item that fails is recorded and the rest go on.",
                {"metavar": "NAME"},
            ),
            Option(
                ("--concurrency",),
                "At most N requests at a time (1 to 64; default QwenMagics.concurrency). "
                "Halved while the service answers 429, grown back as requests succeed.",
                {"type": int, "metavar": "N"},
            ),
            Option(
                ("-n",),
                "K samples of the same prompt, side by side. On Model Studio's chat API, Qwen "
                "Plus and open Qwen3 models not thinking give up to 4 in one request (the "
                "service's n: its tokens and cost show on the first sample); otherwise, or "
                "where n is refused, one request each.",
                {"type": int, "metavar": "K", "dest": "n"},
            ),
            Option(
                ("--vary",),
                "Compare a setting's values: --vary think runs thinking on and off side by side.",
                {"choices": ("think",), "action": "append"},
            ),
            Option(
                ("--batch",),
                "With --each: submit a provider Batch job instead of streaming (half price, "
                "runs for hours on the service); -o gets the job.",
                {"action": "store_true"},
            ),
            Option(
                ("--window",),
                "With --batch: the completion window, 24h (the default) to 336h; hours or "
                "days, e.g. 48h or 3d.",
                {"metavar": "TIME"},
            ),
            Option(
                ("--dry-run",),
                "Show what would be sent (messages with media elided, parameters, endpoint) "
                "and the estimate (input tokens counted offline, the cost range up to "
                "--max-tokens or a typical answer); send nothing. With --batch: submit the same "
                "lines to the service's free test model (batch-test-model, at most 100 "
                "requests) to try the whole flow.",
                {"action": "store_true", "dest": "dry_run"},
            ),
        ),
    ),
    Group(
        "Errors",
        "Explain the last uncaught exception and propose a corrected cell (also %qwencmd fix; "
        "%config QwenMagics.explain_errors = True puts an Explain with Qwen button under "
        "every exception, which sends nothing until clicked).",
        (
            Option(
                ("--fix",),
                "Send the cell that raised the last error (as typed), the exception, a trimmed "
                "traceback (your cells' frames and the last library frames, plain text) and the "
                "names, types and shapes of the variables it uses, and ask for an explanation "
                "and the corrected cell; your words, if any, are added as written. With -f code "
                "the corrected cell (the answer's last python block) goes into a new cell "
                "below. Errors are recorded from the moment qwen_magic is loaded; UsageErrors "
                "and errors inside qwen_magic are not. Strings whose name looks like a secret "
                "are not shown, and the API key is masked.",
                {"action": "store_true"},
            ),
        ),
    ),
    Group(
        "Context",
        "Your data, files and web pages sent with the prompt, each shown as a chip with its "
        "size in tokens (counted offline with the Qwen tokenizer). {df} holding a pandas "
        "DataFrame or Series (or a numpy array, list or dict too long to print whole) is filled "
        "with a compact summary: shape, dtypes, the first rows, describe() of the numeric "
        "columns; {df!full} sends every row. Files and pages follow the prompt as labelled "
        "blocks. Over the budget is an error before anything is sent, with each item's tokens.",
        (
            Option(
                ("--file",),
                "Attach a file (repeatable; globs such as 'data/*.csv' or 'notes/**/*.md'): "
                "text, Markdown, CSV, JSON, code, or a PDF's text (pip install "
                "'qwen-magic[pdf]'). Up to 10 MB of text (50 MB of PDF) per file; images, "
                "spreadsheets and other binary files are refused with what to do instead. "
                "With --each or a compare, read once and sent after every prompt.",
                {"action": "append", "metavar": "PATH"},
            ),
            Option(
                ("--url",),
                "Attach a web page's readable text (repeatable): fetched before the request "
                "(http and https only, at most 5 MB and 20 s, no key or credential sent), its "
                "main text extracted without navigation and footers (pip install "
                "'qwen-magic[web]'). Plain text, JSON, CSV and PDF URLs are read as they are. "
                "With --each or a compare, fetched once and sent after every prompt.",
                {"action": "append", "metavar": "URL"},
            ),
            Option(
                ("--context-budget",),
                "At most N tokens of context for this prompt ({df} summaries, files and pages "
                "together; default QwenMagics.context_budget, 2000). Summaries shrink to fit "
                "what files and pages leave.",
                {"type": int, "metavar": "N"},
            ),
        ),
    ),
    Group(
        "Tools",
        "Your Python functions as tools: the model asks for calls, they run on the kernel's "
        "thread (where your code runs), their results go back, and the model answers from "
        "them. Each function's JSON schema comes from its signature, type hints (str, int, "
        "float, bool, Literal, Optional, lists, dicts, dataclasses, pydantic models) and "
        "docstring (the summary, and a line per argument in the Google, NumPy or reST style); "
        "@qwen_magic.tool (optional) adds a description, confirm=True (ask before each call) or "
        "thread_safe=True. Each call is a folded row above the answer, live and in the saved "
        "notebook (name, arguments, result, seconds); _qwen.steps and _qwen.tool_calls keep "
        "them. A tool that raises sends the exception's text to the model as its result. Stop "
        "ends the loop and keeps what happened; in a chat (-c) the calls are part of the "
        "history, saved and loaded with it.",
        (
            Option(
                ("--tools",),
                "The functions the model may call: names in your namespace "
                "(--tools get_weather,search_db) or {expr} giving a function or a list of them "
                "(--tools {my_tools}). A parameter typed with something JSON cannot carry (a "
                "DataFrame, a custom class) is refused before anything is sent. Results go back "
                "as JSON (or str()), at most 16,000 characters each.",
                {"metavar": "NAMES"},
            ),
            Option(
                ("--tool-choice",),
                "auto (the default: the model decides), none (answer without calling), or a "
                "tool's name (call it first; later rounds are auto).",
                {"metavar": "auto|none|NAME"},
            ),
            Option(
                ("--max-rounds",),
                "At most N model rounds (default 8). A model still asking for calls after N "
                "rounds is stopped with an error saying so; its last calls are not run.",
                {"type": int, "metavar": "N"},
            ),
            Option(
                ("--yes",),
                "Run confirm=True tools without asking. Otherwise they ask with Run/Skip "
                "buttons in the live view, and are refused (the model is told the user did not "
                "allow the call) where no one can click: headless runs (papermill, nbconvert), "
                "display final or none.",
                {"action": "store_true"},
            ),
        ),
    ),
    Group(
        "Web search",
        "The service's web search. With --api dashscope and --api responses the pages it used "
        "are listed under the answer, numbered as the answer's [ref_1] markers (which become "
        "links), and kept in _qwen.sources; --api chat returns none.",
        (
            Option(
                ("--search",),
                "Let the model search the web (enable_search; the web_search tool on the "
                "Responses API), with sources and citation markers asked for.",
                {"action": "store_true"},
            ),
            Option(
                ("--search-options",),
                'More search settings as a JSON object, e.g. \'{"search_strategy": "max", '
                '"forced_search": true}\' (merged over the defaults).',
                {"metavar": "JSON"},
            ),
        ),
    ),
)


class _Formatter(MagicHelpFormatter):
    """IPython's magic help without its reStructuredText: the pager shows plain text."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = None) -> None:
        argparse.RawDescriptionHelpFormatter.add_usage(self, usage, actions, groups, "Usage: %")

    def _format_action_invocation(self, action: argparse.Action) -> str:
        return argparse.HelpFormatter._format_action_invocation(self, action)


def qwen_options(func: Callable[..., Any]) -> Any:
    """Give the magic its parser, ``.parser`` (and so its ``%qwen?`` help), built from
    :data:`GROUPS`."""
    decorators: list[Any] = []
    for group in GROUPS:
        decorators.append(argument_group(group.title, textwrap.fill(group.about, 78)))
        for option in group.options:
            # argparse %-formats help text: a literal % (%%bash, %config) is written %%.
            text = option.help.replace("%", "%%")
            decorators.append(argument(*option.flags, help=text, **option.settings))
    for decorator in reversed(decorators):
        func = decorator(func)
    func = kwds(description=INTRO, epilog=EXAMPLES, formatter_class=_Formatter)(func)
    return magic_arguments()(func)


def options_table() -> str:
    """The README's option table (Markdown), one row per option, under its group."""
    lines = ["| option | meaning |", "|---|---|"]
    for group in GROUPS:
        lines.append(f"| **{group.title}** | {_cell(group.about)} |")
        for option in group.options:
            lines.append(f"| `{_cell(option.invocation())}` | {_cell(option.help)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
