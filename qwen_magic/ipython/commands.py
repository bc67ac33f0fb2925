"""``%qwencmd`` sub-commands (management, never a prompt)."""

from __future__ import annotations

import getpass
import shlex
from typing import Any, Protocol

from qwen_magic import masking
from qwen_magic.errors import QwenUsageError
from qwen_magic.options import keys
from qwen_magic.options.build import resolve_endpoint, without_userinfo
from qwen_magic.render.tables import Table
from qwen_magic.session import Session


class QwenMagics(Protocol):
    """What the commands use of ``QwenMagics``: its session and its config traits (the class
    is not imported: it imports this module)."""

    session: Session
    api_key_env: str
    region: str
    workspace: str | None
    base_url: str | None
    legacy_responses: bool
    debug: bool

    def trait_names(self, **metadata: Any) -> list[str]: ...


COMMANDS = (
    "config", "key", "models", "usage", "chats", "history", "reset", "save", "load",
    "emulator", "debug", "jobs", "job", "fix", "log", "voices", "record",
)  # fmt: skip


def run(magics: QwenMagics, line: str) -> Any:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise QwenUsageError(
            f"Could not read `%qwencmd {line}`: {exc} (check the quotes)."
        ) from None
    if not words:
        raise QwenUsageError(f"%qwencmd needs a command: one of {', '.join(COMMANDS)}.")
    name, rest = words[0], words[1:]
    handler = globals().get(f"cmd_{name}")
    if name not in COMMANDS or handler is None:
        raise QwenUsageError(
            f"Unknown %qwencmd command {name!r}: use one of {', '.join(COMMANDS)} "
            "(see `%qwencmd?`)."
        )
    return handler(magics, rest)


def cmd_config(magics: QwenMagics, rest: list[str]) -> Table:
    try:
        key, source = keys.resolve_key(magics.api_key_env, magics.session.key)
        shown_key = f"{masking.mask(key)} (from {source})"
    except QwenUsageError as exc:  # a key with a line break...: say so, never show it
        shown_key = f"(unusable: {exc})"
    rows = [["setting", "value"]]
    for name in sorted(magics.trait_names(config=True)):
        value = getattr(magics, name)
        if name == "base_url" and isinstance(value, str):
            value = without_userinfo(value)
        rows.append([name, masking.redact(repr(value))])
    rows.append(["api key", shown_key])
    for api in ("chat", "responses", "dashscope"):
        try:
            url = resolve_endpoint(
                api,
                magics.region,
                magics.workspace,
                magics.base_url,
                magics.session.emulator_bases(magics.legacy_responses),
                legacy_responses=magics.legacy_responses,
            ).base_url
        except QwenUsageError as exc:
            url = f"(unavailable: {exc})"
        rows.append([f"{api} URL", masking.redact(url)])
    return Table(rows, "qwen_magic configuration")


def cmd_key(magics: QwenMagics, rest: list[str]) -> None:
    if rest:
        raise QwenUsageError(
            "Don't type the key on the command line (it would be saved in the notebook): run "
            "`%qwencmd key` alone and paste it at the prompt."
        )
    value = getpass.getpass("DashScope API key (kept in memory for this session only): ")
    magics.session.set_key(value or None)  # a UsageError for a key with a line break...
    print(f"Key set for this session: {masking.mask(value)}" if value else "Session key cleared.")


def cmd_usage(magics: QwenMagics, rest: list[str]) -> Table:
    return Table(magics.session.usage.rows(), "qwen_magic usage this session")


def cmd_debug(magics: QwenMagics, rest: list[str]) -> None:
    if rest not in (["on"], ["off"]):
        raise QwenUsageError("Use `%qwencmd debug on` or `%qwencmd debug off`.")
    magics.debug = rest == ["on"]
    print(f"debug {'on' if magics.debug else 'off'}")


def cmd_emulator(magics: QwenMagics, rest: list[str]) -> None:
    session = magics.session
    action = rest[0] if rest else "start"
    if action == "start":
        from qwen_magic.ipython.recorder import emulator_options

        replay, speed = emulator_options(rest[1:])
        if session.emulator is None or replay is not None:
            from qwen_magic.emulator import Emulator
            from qwen_magic.emulator.replay import RecordingError

            try:
                emulator = Emulator(replay=replay, replay_speed=speed)
            except RecordingError as exc:
                raise QwenUsageError(str(exc)) from None
            session.use_emulator(emulator.start(), owned=True)
        assert session.emulator is not None
        print(
            f"Emulator running at {session.emulator.url}: every %qwen call in this kernel now "
            "goes there (no network, no key). `%qwencmd emulator stop` to go back."
        )
        if replay is not None and session.emulator.replay is not None:
            print(
                f"Answering from the recording {replay} ({len(session.emulator.replay.entries)} "
                "answers); a request it has none for gets the echo, marked "
                "'[no recording for this request]'."
            )
    elif action == "stop":
        session.use_emulator(None)
        print("Emulator stopped: calls go to the real service again.")
    else:
        raise QwenUsageError(
            "Use `%qwencmd emulator start [--replay PATH [--speed X]]` or `%qwencmd emulator stop`."
        )


def cmd_record(magics: QwenMagics, rest: list[str]) -> None:
    """``%qwencmd record start PATH | stop``: qwen_magic/ipython/recorder.py."""
    from qwen_magic.ipython.recorder import record_command

    record_command(magics.session, rest)


def cmd_models(magics: QwenMagics, rest: list[str]) -> Table:
    from qwen_magic.errors import hint_for
    from qwen_magic.options.build import build_request
    from qwen_magic.providers.guard import ReadGuard, guarding
    from qwen_magic.providers.openai_common import from_openai_error, openai_client

    request = build_request("models", {"api": "chat"}, magics)
    try:
        client = openai_client(
            request.base_url, request.api_key, request.timeout, request.max_retries
        )
        with guarding(ReadGuard(request.timeout)):  # a server's reply is bounded here too
            models = list(client.models.list())
    except KeyboardInterrupt:  # end here: a traceback through the SDK could show its headers
        raise QwenUsageError(f"Stopped listing the models at {request.base_url}.") from None
    except Exception as exc:
        error = masking.redact_fields(from_openai_error(exc))  # the server may echo the key
        error.hint = hint_for(
            error,
            region=request.region,
            base_url=request.base_url,
            model=request.model,
            key_source=request.key_source,
        )
        raise QwenUsageError(f"Could not list models at {request.base_url}: {error}") from None
    # Model ids come from the server, like an answer: masked like one.
    rows = [["model", "owned by"]]
    rows += [
        [masking.redact(str(m.id)), masking.redact(str(getattr(m, "owned_by", "") or ""))]
        for m in sorted(models, key=lambda m: str(m.id))
    ]
    return Table(rows, f"{len(rows) - 1} models at {request.base_url}")


def cmd_chats(magics: QwenMagics, rest: list[str]) -> Table:
    rows = [["name", "turns", "model", "tokens"]]
    for chat in magics.session.chats.chats.values():
        model = chat.turns[-1].model if chat.turns else ""
        rows.append([chat.name, str(len(chat.turns)), model, str(chat.tokens)])
    return Table(rows, "qwen_magic chats")


def _one_name(rest: list[str], usage: str) -> str:
    if len(rest) != 1:
        raise QwenUsageError(f"Use `%qwencmd {usage}`.")
    return rest[0]


def cmd_history(magics: QwenMagics, rest: list[str]) -> Any:
    return magics.session.chats.get(_one_name(rest, "history NAME"))


def cmd_reset(magics: QwenMagics, rest: list[str]) -> None:
    if len(rest) > 1:
        raise QwenUsageError("Use `%qwencmd reset NAME`, or `%qwencmd reset` to forget all chats.")
    magics.session.chats.reset(rest[0] if rest else None)
    print(f"Chat {rest[0]!r} forgotten." if rest else "All chats forgotten.")


def cmd_save(magics: QwenMagics, rest: list[str]) -> None:
    force = "--force" in rest
    args = [word for word in rest if word != "--force"]
    if len(args) != 2:
        raise QwenUsageError(
            "Use `%qwencmd save NAME PATH` (add --force to replace a file that is not a chat)."
        )
    path = magics.session.chats.save(*args, force=force)
    print(f"Chat {args[0]!r} saved to {path} (the API key is never saved).")


def cmd_load(magics: QwenMagics, rest: list[str]) -> None:
    if len(rest) != 2:
        raise QwenUsageError("Use `%qwencmd load NAME PATH`.")
    chat = magics.session.chats.load(*rest)
    print(f"Chat {chat.name!r} loaded: {len(chat.turns)} turns.")


def cmd_jobs(magics: QwenMagics, rest: list[str]) -> Table:
    from qwen_magic.batch.commands import jobs_table

    return jobs_table(magics, rest)


def cmd_job(magics: QwenMagics, rest: list[str]) -> Any:
    from qwen_magic.batch.commands import job_command

    return job_command(magics, rest)


def cmd_fix(magics: QwenMagics, rest: list[str]) -> None:
    """``%qwencmd fix [options] [words]``: ``%qwen --fix`` (see ``ipython/fix.py``)."""
    from qwen_magic.ipython.fix import run_command

    run_command(magics, rest)


def cmd_log(magics: QwenMagics, rest: list[str]) -> Any:
    """``%qwencmd log …``: the local call history (``qwen_magic/logbook/commands.py``)."""
    from qwen_magic.logbook.commands import log_command

    return log_command(magics, rest)


def cmd_voices(magics: QwenMagics, rest: list[str]) -> Table:
    """The voices Model Studio's pages name for the models that speak (``voices.py``)."""
    from qwen_magic.voices import voices_table

    if rest:
        raise QwenUsageError("`%qwencmd voices` takes no arguments.")
    return Table(voices_table(), "Voices: --voice NAME (--speak takes the first of its model)")
