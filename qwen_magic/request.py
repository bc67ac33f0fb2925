"""Request: what is asked, every option resolved (Result, what came back, is in result.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.media import check_media, elided_repr

if TYPE_CHECKING:
    from qwen_magic.media import Media

APIS = ("chat", "responses", "dashscope")
FORMATS = ("markdown", "text", "html", "code")

# The recommended settings per scenario from Model Studio's text-generation overview
# (https://www.alibabacloud.com/help/en/model-studio/text-generation, SCENARIO_CONFIGS).
PRESETS: dict[str, dict[str, float]] = {
    "creative_writing": {"temperature": 0.9, "top_p": 0.95},
    "code_generation": {"temperature": 0.2, "top_p": 0.8},
    "factual_qa": {"temperature": 0.1, "top_p": 0.7},
    "translation": {"temperature": 0.3, "top_p": 0.8},
}


@dataclass(frozen=True)
class Attachment:
    """Context sent with the prompt (a file, a web page, a summarized ``{df}``), as its chip
    names it: ``📎 sales.csv · 1,204 tokens``."""

    name: str  # "sales.csv", "{df}", "https://example.org/page"
    kind: str  # "csv", "pdf", "page", "DataFrame summary", ...
    tokens: int
    exact: bool = True  # False: estimated (about 4 characters a token)


@dataclass
class Request:
    """One call to a model, fully resolved: every option has its final value."""

    prompt: str
    model: str
    api: str
    base_url: str
    api_key: str = field(repr=False, compare=False)
    region: str | None = None  # None when --base-url points elsewhere
    system: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    thinking: bool | None = None
    thinking_budget: int | None = None
    # How thinking and its budget are sent on chat/responses: "enable_thinking" (DashScope's
    # top-level keys), "chat_template_kwargs" (vLLM, SGLang, llama.cpp) or "both".
    thinking_param: str = "enable_thinking"
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    stream: bool = True
    timeout: float = 120.0
    max_retries: int = 2
    deadline: float | None = 300.0  # the longest wait for the answer to begin, retries included
    format: str = "markdown"
    json_mode: bool = False  # ask for a JSON object; the parsed value becomes Result.data
    prefix: str | None = None  # partial mode: the answer continues this text
    key_source: str = ""  # where the key came from ("$DASHSCOPE_API_KEY", "%qwencmd key")
    media: list[Media] = field(default_factory=list)  # images and video, checked and encoded
    attachments: list[Attachment] = field(default_factory=list)  # --file, --url, {df} summaries
    # Function tools in the chat shape: {"type": "function", "function": {"name",
    # "description", "parameters"}}; each provider sends them in its API's form.
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | None = None  # "auto", "none", or the name of one of `tools`
    search: bool = False  # the service's web search (enable_search; Responses: web_search)
    search_options: dict[str, Any] | None = None  # merged over DEFAULT_SEARCH_OPTIONS
    # This turn's tool rounds so far (``--tools``): the assistant messages that asked for calls
    # and the calls' results (chat shape), sent after the user's message.
    tool_rounds: list[dict[str, Any]] = field(default_factory=list)
    # --logprobs K: ask for each answer token's log probability and K alternatives (0-5);
    # None: not asked.
    logprobs: int | None = None
    # How the answer is priced (pricing.Pricing: the table and the region); None: not priced
    # (a server of your own).
    pricing: Any = field(default=None, repr=False, compare=False)
    voice: str | None = None  # --voice/--speak: the answer is spoken too (Qwen-Omni, chat API)
    # -n K on the chat API: ``samples`` answers come from one request (the service's ``n``);
    # this Request stands for its ``sample``-th choice (0: the one that sends the request and
    # is given the request's tokens and cost).
    samples: int = 1
    sample: int = 0

    def __repr__(self) -> str:
        return elided_repr(self)

    def validate(self) -> None:
        """Raise a QwenUsageError for any value the service would reject."""
        if not self.prompt.strip() and not self.media:
            raise QwenUsageError(
                "The prompt is empty: write it in the cell below `%%qwen`, or after `%qwen` "
                "on the same line."
            )
        if self.api not in APIS:
            raise QwenUsageError(f"Unknown --api {self.api!r}: use one of {', '.join(APIS)}.")
        if self.format not in FORMATS:
            raise QwenUsageError(
                f"Unknown --format {self.format!r}: use one of {', '.join(FORMATS)}."
            )
        _check_range("temperature (-t)", self.temperature, 0.0, 2.0, hi_open=True)
        _check_range("top_p (--top-p)", self.top_p, 0.0, 1.0, lo_open=True)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise QwenUsageError("--max-tokens must be at least 1.")
        if self.thinking_budget is not None and self.thinking_budget < 1:
            raise QwenUsageError("--thinking-budget must be at least 1 token.")
        if self.seed is not None and not 0 <= self.seed <= 2**31 - 1:
            raise QwenUsageError("--seed must be between 0 and 2147483647.")
        if self.timeout <= 0:
            raise QwenUsageError("QwenMagics.timeout must be a positive number of seconds.")
        if self.deadline is not None and not self.deadline > 0:
            raise QwenUsageError("QwenMagics.deadline must be a positive number of seconds.")
        check_media(self.media, model=self.model, api=self.api, history=self.history)
        from qwen_magic.voices import check_voice

        check_voice(self)
        self._check_tools()
        self._check_logprobs()

    def _check_logprobs(self) -> None:
        k = self.logprobs
        if k is None:
            return
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 5:
            raise QwenUsageError(
                f"--logprobs K asks for K alternatives per token, 0 to 5 (the service's range); "
                f"you gave {k!r}. Write --logprobs alone for 3, or e.g. --logprobs 5."
            )
        if self.api == "responses":
            raise QwenUsageError(
                "--logprobs is not available on the Responses API (Model Studio returns no "
                "token probabilities there): use --api chat or --api dashscope."
            )

    def _check_tools(self) -> None:
        names = [tool_name(tool) for tool in self.tools]
        if self.tool_choice not in (None, "auto", "none", *names):
            known = ", ".join(names) or "none given"
            raise QwenUsageError(
                f"--tool-choice {self.tool_choice!r} is not one of the tools ({known}): use "
                "auto, none, or the name of a tool given with --tools."
            )
        if self.search_options is not None and not isinstance(self.search_options, dict):
            raise QwenUsageError(
                "--search-options must be a JSON object, e.g. "
                '\'{"search_strategy": "max", "freshness": 7}\'.'
            )


# What --search sends unless --search-options says otherwise (Model Studio's web search page:
# strategy "turbo"; sources and "[ref_1]" citation markers asked for, so they can be listed).
DEFAULT_SEARCH_OPTIONS: dict[str, Any] = {
    "forced_search": False,
    "search_strategy": "turbo",
    "enable_source": True,
    "enable_citation": True,
    "citation_format": "[ref_<number>]",
}


def search_options(request: Request) -> dict[str, Any]:
    """The ``search_options`` sent with ``enable_search``: the defaults, then the user's."""
    return {**DEFAULT_SEARCH_OPTIONS, **(request.search_options or {})}


def tool_name(tool: dict[str, Any]) -> str:
    """The name of a function tool in the chat shape."""
    function = tool.get("function") if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise QwenUsageError(
            f"A tool must look like {{'type': 'function', 'function': {{'name': …, "
            f"'parameters': {{…}}}}}}; got {tool!r:.80}."
        )
    return name


def _check_range(
    name: str, value: float | None, lo: float, hi: float, *, lo_open=False, hi_open=False
) -> None:
    if value is None:
        return
    too_low = value <= lo if lo_open else value < lo
    too_high = value >= hi if hi_open else value > hi
    if too_low or too_high or math.isnan(value):
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise QwenUsageError(f"{name} must be in {interval}; you gave {value:g}.")
