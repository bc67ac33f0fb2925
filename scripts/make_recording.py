"""Build a replay recording (docs/recording.md) from a short YAML or JSON list of answers.

    .venv/bin/python scripts/make_recording.py answers.yaml -o notebooks/recordings/quickstart.jsonl

Each item: ``prompt`` and ``answer`` (required); ``model`` (default qwen3.5-plus); ``system``;
``history`` (earlier turns, ``[{role, content}]``); ``options`` (thinking, temperature, top_p,
seed, n, tools, json, search, voice: as the cell sets them); ``reasoning``; ``usage``
(default: counted with the offline Qwen tokenizer); ``pacing`` (default ``--ttft`` and
``--rate``); ``finish_reason``; ``tool_calls`` (``[{name, arguments}]``); ``sources``
(``[{index, title, url}]``); ``samples`` (with ``options: {n: K}``: the answers of samples
2 to K); ``media`` (hashes, as a kernel's recording writes them). The match keys are
computed by the emulator's own code (``qwen_magic.emulator.replay``), so the emulator finds
every entry exactly as written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qwen_magic.emulator import replay  # noqa: E402

DEFAULT_MODEL = "qwen3.5-plus"


def read_items(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise SystemExit(f"{path}: expected a list of {{prompt, answer, ...}} items")
    return data


def _count(text: str) -> int | None:
    if not text:
        return 0
    from qwen_magic.emulator import logprobs

    try:
        return logprobs.count(text)
    except Exception:  # no tokenizer here: the emulator counts words then
        return None


def options_of(model: str, given: dict[str, Any]) -> dict[str, Any]:
    """The item's options in the recording's names, ``thinking`` made effective."""
    options = dict(given)
    if options.pop("json", False):
        options["response_format"] = "json_object"
    tools = options.get("tools")
    if isinstance(tools, list):
        from qwen_magic.emulator.tools import tool_names

        names = [t for t in tools if isinstance(t, str)]
        names += tool_names([t for t in tools if isinstance(t, dict)])
        options["tools"] = [n for n in names if n not in replay.BUILT_IN_TOOLS]
    unknown = sorted(set(options) - set(replay.OPTION_NAMES))
    if unknown:
        raise SystemExit(
            f"unknown option(s) {', '.join(unknown)}: use {', '.join(replay.OPTION_NAMES)}"
        )
    options["thinking"] = replay.default_thinking(model, options.get("thinking"))
    return replay.clean_options(options)


def entry_of(item: dict[str, Any], ttft: float, rate: float) -> dict[str, Any]:
    if not isinstance(item.get("prompt"), str) or not isinstance(item.get("answer"), str):
        raise SystemExit(f"every item needs a prompt and an answer (text): {item!r:.200}")
    model = str(item.get("model") or DEFAULT_MODEL)
    messages: list[dict[str, Any]] = []
    if item.get("system"):
        messages.append({"role": "system", "content": str(item["system"])})
    messages.extend(item.get("history") or [])
    messages.append({"role": "user", "content": item["prompt"]})
    normalized = replay.normalize_messages(messages)
    if item.get("media"):
        normalized[-1]["media"] = list(item["media"])
    options = options_of(model, item.get("options") or {})
    reasoning = str(item.get("reasoning") or "") if options.get("thinking") else ""
    answer: dict[str, Any] = {"text": item["answer"]}
    if reasoning:
        answer["reasoning"] = reasoning
    for name in ("finish_reason", "tool_calls", "sources", "samples"):
        if item.get(name) is not None:
            answer[name] = item[name]
    usage = item.get("usage")
    if usage is None:
        out, thought = _count(item["answer"]), _count(reasoning)
        if out is not None and thought is not None:
            usage = {"output_tokens": out + thought}
            if reasoning:
                usage["reasoning_tokens"] = thought
            from qwen_magic.emulator import logprobs
            from qwen_magic.emulator.replies import content_text

            prompt = logprobs.prompt_tokens(messages, content_text)
            if prompt is not None:
                usage["input_tokens"] = prompt
    if usage:
        answer["usage"] = usage
    pacing = item.get("pacing") or {"ttft": ttft, "tokens_per_second": rate}
    entry = {
        "request": {"model": model, "messages": normalized, "options": options},
        "answer": answer,
        "pacing": pacing,
    }
    replay.parse_entry(entry, "item")  # as the emulator will read it
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("items", type=Path, help="a YAML or JSON list of answers")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the recording")
    parser.add_argument("--append", action="store_true", help="add to an existing recording")
    parser.add_argument("--ttft", type=float, default=0.6, help="default seconds to 1st token")
    parser.add_argument("--rate", type=float, default=60.0, help="default tokens per second")
    args = parser.parse_args(argv)
    entries = [entry_of(item, args.ttft, args.rate) for item in read_items(args.items)]
    if not args.append and args.output.exists():
        args.output.unlink()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    replay.append_entries(args.output, entries)
    replay.read_entries(args.output)  # the emulator reads it back
    print(f"{args.output}: {len(entries)} answer(s) written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
