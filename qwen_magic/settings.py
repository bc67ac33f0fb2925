"""Option values → a validated Request. Shared by the magics and ``qwen_magic.ask``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from . import keys
from .errors import QwenUsageError
from .models import allows_non_stream_thinking, thinking_only, thinks_by_default
from .regions import REGIONS, RegionError, base_url
from .request import PRESETS, Request

DISPLAYS = ("live", "final", "none")


@dataclass
class Endpoint:
    base_url: str
    region: str | None  # None: a custom --base-url


def resolve_endpoint(
    api: str,
    region: str,
    workspace: str | None,
    custom_base_url: str | None,
    emulator_bases: dict[str, str] | None = None,
    legacy_responses: bool = False,
) -> Endpoint:
    if region not in REGIONS:
        raise QwenUsageError(
            f"Unknown region {region!r}: use one of {', '.join(REGIONS)} "
            "(sg Singapore, us Virginia, cn Beijing, hk Hong Kong, de Frankfurt)."
        )
    if custom_base_url:
        return Endpoint(_checked_url(custom_base_url), None)
    if emulator_bases is not None:
        return Endpoint(emulator_bases[api], "emulator")
    try:
        return Endpoint(base_url(api, region, workspace, legacy=legacy_responses), region)
    except RegionError as exc:
        raise QwenUsageError(str(exc)) from None


def _checked_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlparse(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise QwenUsageError(
            f"--base-url {url!r} is not an http(s) URL: write it like "
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1 or http://localhost:11434/v1."
        )
    return url


def is_dashscope(url: str) -> bool:
    """Alibaba Cloud's Model Studio hosts (shared, workspace and trial domains)."""
    return (urlparse(url).hostname or "").endswith(".aliyuncs.com")


def is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".local")


def build_request(prompt: str, options: dict[str, Any], defaults: Any) -> Request:
    """``options``: values given for this call (None = not given); ``defaults``: the config."""

    def pick(name: str, default_name: str | None = None) -> Any:
        value = options.get(name)
        return getattr(defaults, default_name or name) if value is None else value

    api = pick("api")
    if "," in str(pick("model")):
        raise QwenUsageError(
            f"-m {pick('model')!r} names several models; comparing models side by side is not "
            "available yet: ask each model in its own cell (e.g. `%qwen -m qwen-plus ...`)."
        )
    endpoint = resolve_endpoint(
        api,
        pick("region"),
        defaults.workspace,
        options.get("base_url") or defaults.base_url,
        getattr(defaults, "emulator_bases", None),
        legacy_responses=getattr(defaults, "legacy_responses", False),
    )
    source = "emulator"
    if endpoint.region == "emulator":
        key = "emulator-key"
    elif not is_dashscope(endpoint.base_url) and not defaults.send_key_to_base_url:
        # Your Model Studio key goes to Alibaba Cloud only, never to a server you named with
        # --base-url (vLLM, Ollama, LM Studio take any key) unless you say so.
        key, source = "not-needed", "none: not a DashScope host"
    else:
        key, source = keys.resolve_key(defaults.api_key_env)
        if key is None and is_local(endpoint.base_url):
            key = "not-needed"
        if key is None:
            raise QwenUsageError(
                f"No API key: set the environment variable {defaults.api_key_env} to your Model "
                "Studio key (keys are per region: use a key of the region you call), or run "
                "`%qwencmd key` to type it for this session only. Offline? "
                "`%qwencmd emulator start` answers from a local emulator."
            )
    temperature, top_p = options.get("temperature"), options.get("top_p")
    preset = options.get("preset")
    if preset:
        if preset not in PRESETS:
            raise QwenUsageError(f"Unknown --preset {preset!r}: use one of {', '.join(PRESETS)}.")
        temperature = PRESETS[preset]["temperature"] if temperature is None else temperature
        top_p = PRESETS[preset]["top_p"] if top_p is None else top_p
    stop = options.get("stop")
    request = Request(
        prompt=prompt,
        model=pick("model"),
        api=api,
        base_url=endpoint.base_url,
        api_key=key,
        region=endpoint.region,
        system=pick("system"),
        thinking=pick("thinking"),
        thinking_budget=pick("thinking_budget"),
        temperature=temperature,
        top_p=top_p,
        max_tokens=options.get("max_tokens"),
        seed=options.get("seed"),
        stop=list(stop) if stop else None,
        stream=pick("stream"),
        timeout=defaults.timeout,
        max_retries=defaults.max_retries,
        format=pick("format"),
        json_mode=bool(options.get("json")),
        prefix=options.get("prefix") or None,
        media=list(options.get("media") or []),
    )
    request.validate()
    if request.json_mode:
        _prepare_json_mode(request)
    if request.prefix and request.api == "responses":
        raise QwenUsageError(
            "--prefix (partial mode) is not available on the Responses API: use --api chat or "
            "--api dashscope."
        )
    if request.thinking_budget is not None and request.thinking is None:
        request.thinking = True  # a budget only means something when thinking
    thinks = request.thinking or (request.thinking is None and thinking_only(request.model))
    if not request.stream and thinks and not allows_non_stream_thinking(request.model):
        raise QwenUsageError(
            f"{request.model} can only think while streaming: drop --no-stream, or add "
            "--no-think to get a non-streamed answer without thinking."
        )
    if request.thinking is False and thinking_only(request.model):
        raise QwenUsageError(
            f"{request.model} always thinks: drop --no-think, or pick a hybrid model such as "
            "qwen3.5-plus or qwen-plus."
        )
    return request


JSON_HINT = "Reply with a single JSON object."


def _prepare_json_mode(request: Request) -> None:
    """The service refuses JSON mode while thinking, and wants the word "json" in the messages."""
    if request.thinking or thinking_only(request.model):
        raise QwenUsageError(
            f"--json can't be combined with thinking (the service refuses JSON mode while "
            f"{request.model} thinks): drop --think, or pick a model that can stop thinking."
        )
    if request.thinking is None and thinks_by_default(request.model):
        request.thinking = False
    sent = " ".join(
        [request.system or "", request.prompt, *(str(m.get("content")) for m in request.history)]
    )
    if "json" not in sent.lower():
        request.system = f"{request.system}\n\n{JSON_HINT}" if request.system else JSON_HINT
