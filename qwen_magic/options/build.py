"""Option values → a validated Request. Shared by the magics and ``qwen_magic.ask``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from qwen_magic import masking
from qwen_magic.errors import QwenUsageError
from qwen_magic.models import allows_non_stream_thinking, thinking_only, thinks_by_default
from qwen_magic.options import keys
from qwen_magic.options.regions import REGIONS, RegionError, base_url, is_model_studio_host
from qwen_magic.request import PRESETS, Request

DISPLAYS = ("live", "final", "none")

# The URL parser of the HTTP client each API's SDK sends with: the host that decides whether
# the key may go is the host the client connects to (openai: httpx2; dashscope: requests,
# i.e. urllib3, and aiohttp, i.e. yarl, for async calls).
CLIENT_PARSERS = {"chat": ("httpx2",), "responses": ("httpx2",), "dashscope": ("urllib3", "yarl")}


@dataclass
class Endpoint:
    base_url: str
    region: str | None  # None: a custom --base-url
    host: str = ""  # the host the SDK's HTTP client connects to


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
        url = custom_base_url.strip().rstrip("/")
        return Endpoint(url, None, checked_host(url, api, "--base-url"))
    if emulator_bases is not None:
        return Endpoint(emulator_bases[api], "emulator", "127.0.0.1")
    try:
        url = base_url(api, region, workspace, legacy=legacy_responses)
    except RegionError as exc:
        raise QwenUsageError(str(exc)) from None
    return Endpoint(url, region, checked_host(url, api, f"The URL of region {region!r}"))


def checked_host(url: str, api: str, what: str = "--base-url") -> str:
    """The host ``api``'s HTTP client will connect to for ``url``, or a UsageError.

    A URL that parsers can read differently (userinfo ``user@``, a backslash, whitespace,
    control or non-ASCII characters, a fragment) is refused outright, and the host must be the
    same for Python's parser and the client's: the key must go where the URL seems to point.
    """
    shown = masking.redact(without_userinfo(url))
    example = (
        "write it like https://dashscope-intl.aliyuncs.com/compatible-mode/v1 or "
        "http://localhost:11434/v1"
    )
    problem = _url_problem(url)
    if problem is None:
        hosts = _hosts(url, api)
        if None in hosts.values():
            problem = f"{', '.join(k for k, v in hosts.items() if v is None)} cannot read it"
        elif len(set(hosts.values())) > 1:
            seen = ", ".join(f"{name} sees {host!r}" for name, host in hosts.items())
            problem = f"HTTP clients disagree on its host ({seen})"
        else:
            host = hosts["urllib"] or ""
            if is_model_studio_host(host) and urlsplit(url).scheme != "https":
                problem = "it would send your key unencrypted: use https:// for Model Studio"
            else:
                return host
    raise QwenUsageError(f"{what} {shown!r} is refused: {problem}. Please {example}.")


def without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:  # user:password@host: never show the password
        userinfo, host = authority.rsplit("@", 1)
        authority = f"{userinfo.split(':', 1)[0]}:…@{host}" if ":" in userinfo else authority
    return f"{scheme}{sep}{authority}{slash}{path}"


def _url_problem(url: str) -> str | None:
    """What makes ``url`` ambiguous or not an http(s) URL, if anything."""
    for char in url:
        if char == "\\":
            return "it contains a backslash (clients read it differently)"
        if char.isspace():
            return "it contains whitespace"
        if not " " <= char <= "~":
            return f"it contains a control or non-ASCII character (U+{ord(char):04X})"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"it cannot be read ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http(s) URL with a host"
    if "@" in parts.netloc:
        return (
            "it carries a user name or password (user@host); the key is read from "
            "$DASHSCOPE_API_KEY or `%qwencmd key`, never from the URL"
        )
    if "%" in parts.netloc:
        return "its host is percent-encoded"
    if parts.fragment or url.endswith("#"):
        return "it has a #fragment"
    return None


def _hosts(url: str, api: str) -> dict[str, str | None]:
    """The host each parser sees (None: the parser refuses the URL), lower-case, no brackets,
    no trailing dot."""
    seen: dict[str, Any] = {"urllib": urlsplit(url).hostname}
    for name in CLIENT_PARSERS.get(api, ()):
        try:
            if name == "httpx2":
                import httpx2

                seen[name] = httpx2.URL(url).host
            elif name == "urllib3":
                import urllib3.util

                seen[name] = urllib3.util.parse_url(url).host
            elif name == "yarl":
                import yarl

                seen[name] = yarl.URL(url).host
        except ImportError:  # the SDK that would use this client is not installed either
            continue
        except Exception:  # noqa: BLE001 - any parser failure means "cannot read it"
            seen[name] = None
    return {
        name: host.strip("[]").rstrip(".").lower() if isinstance(host, str) and host else None
        for name, host in seen.items()
    }


def thinking_param(setting: str, endpoint: Endpoint) -> str:
    """How --think/--no-think are sent. ``auto``: DashScope's top-level ``enable_thinking``
    for Alibaba Cloud (and the emulator standing in for it); for any other --base-url the
    ``chat_template_kwargs`` that vLLM, SGLang and llama.cpp read (they ignore the other)."""
    if setting != "auto":
        return setting
    if endpoint.region is not None or is_model_studio_host(endpoint.host):
        return "enable_thinking"
    return "chat_template_kwargs"


def is_local(host: str) -> bool:
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
    key: str | None
    if endpoint.region == "emulator":
        key = "emulator-key"
    elif not is_model_studio_host(endpoint.host) and not defaults.send_key_to_base_url:
        # Your Model Studio key goes to Alibaba Cloud only, never to a server you named with
        # --base-url (vLLM, Ollama, LM Studio take any key) unless you say so.
        key, source = "not-needed", "none: not a Model Studio host"
    else:
        key, source = keys.resolve_key(defaults.api_key_env, getattr(defaults, "session_key", None))
        if key is None and is_local(endpoint.host):
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
        key_source=source,
        region=endpoint.region,
        system=pick("system"),
        thinking=pick("thinking"),
        thinking_budget=pick("thinking_budget"),
        thinking_param=thinking_param(getattr(defaults, "thinking_param", "auto"), endpoint),
        temperature=temperature,
        top_p=top_p,
        max_tokens=options.get("max_tokens"),
        seed=options.get("seed"),
        stop=list(stop) if stop else None,
        stream=pick("stream"),
        timeout=defaults.timeout,
        max_retries=defaults.max_retries,
        deadline=defaults.deadline,
        format=pick("format"),
        json_mode=bool(options.get("json")),
        prefix=options.get("prefix") or None,
        media=list(options.get("media") or []),
        tools=list(options.get("tools") or []),
        tool_choice=options.get("tool_choice") or None,
        search=bool(options.get("search")),
        search_options=search_options_of(options.get("search_options")),
        voice=_voice(options, pick("model")),
        logprobs=options.get("logprobs"),
    )
    from qwen_magic.pricing import pricing_for

    request.pricing = pricing_for(defaults, pick("region"), endpoint.region)
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


def _voice(options: dict[str, Any], model: str) -> str | None:
    """--voice NAME, or --speak: the model's default voice (``voices.py``); None: text only."""
    voice = options.get("voice")
    if voice is None and options.get("speak"):
        from qwen_magic.voices import default_voice

        voice = default_voice(str(model))
    return voice


def search_options_of(value: Any) -> dict[str, Any] | None:
    """``--search-options``: a dict, or its JSON text (a UsageError when it is neither)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise QwenUsageError(
                f"--search-options is not valid JSON ({exc.args[0]}): write an object, e.g. "
                '--search-options \'{"search_strategy": "max"}\'.'
            ) from None
    if not isinstance(value, dict):
        raise QwenUsageError(
            "--search-options must be a JSON object, e.g. "
            '--search-options \'{"search_strategy": "max"}\'.'
        )
    return value


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
