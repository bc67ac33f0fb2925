"""``%qwencmd record start PATH | stop`` and the hook that appends each finished call
(``QwenMagics._after``) to the recording (``qwen_magic/recording.py``).

Writing the recording must never cost the user their answer: a failure is said once on stderr
and the call goes on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from qwen_magic.errors import QwenUsageError

if TYPE_CHECKING:
    from qwen_magic.recording import Recorder
    from qwen_magic.request import Request
    from qwen_magic.result import Result

_warned: set[str] = set()
USAGE = (
    "Use `%qwencmd record start PATH` to append every answer of this kernel to a recording "
    "(JSON Lines, docs/recording.md), `%qwencmd record stop` to stop, `%qwencmd record` to see "
    "where it goes."
)


def record_call(magics: Any, recorder: Recorder, result: Result, request: Request | None) -> None:
    """Append the call; the user's key is made known to the mask first, wherever the call
    went (the emulator gets no key of theirs, but a prompt or an answer may hold it)."""
    try:
        from qwen_magic.options import keys

        key, _ = keys.resolve_key(
            getattr(magics, "api_key_env", "DASHSCOPE_API_KEY"), magics.session.key
        )
        recorder.add(result, request, key)
    except Exception as exc:
        where = str(recorder.path)
        if where not in _warned:
            _warned.add(where)
            from qwen_magic.masking import redact

            print(
                f"qwen: this answer was not added to the recording {where}: "
                f"{redact(str(exc))}. `%qwencmd record stop`, or record into another file.",
                file=sys.stderr,
            )


def record_command(session: Any, rest: list[str]) -> None:
    """``record start PATH``, ``record stop``, ``record`` (where it goes)."""
    from qwen_magic.emulator.replay import RecordingError
    from qwen_magic.recording import Recorder

    action = rest[0] if rest else "status"
    if action == "start" and len(rest) == 2:
        try:
            session.recorder = Recorder(rest[1])
        except (RecordingError, OSError) as exc:
            raise QwenUsageError(f"Cannot record into {rest[1]}: {exc}") from None
        print(
            f"Recording every answer into {session.recorder.path} (appended; never the key, "
            "media as hashes). Replay it offline with "
            f"`%qwencmd emulator start --replay {session.recorder.path}`; "
            "`%qwencmd record stop` to stop."
        )
    elif action == "stop" and len(rest) == 1:
        recorder, session.recorder = session.recorder, None
        if recorder is None:
            print("Not recording.")
        else:
            print(f"Recording stopped: {recorder.count} answer(s) added to {recorder.path}.")
    elif action == "status" and not rest:
        recorder = session.recorder
        if recorder is None:
            print("Not recording. " + USAGE)
        else:
            print(f"Recording into {recorder.path}: {recorder.count} answer(s) so far.")
    else:
        raise QwenUsageError(USAGE)


def emulator_options(words: list[str]) -> tuple[str | None, float]:
    """``--replay PATH`` and ``--speed X`` of ``%qwencmd emulator start``."""
    replay: str | None = None
    speed = 1.0
    rest = list(words)
    while rest:
        flag = rest.pop(0)
        if flag in ("--replay", "--speed") and rest:
            value = rest.pop(0)
            if flag == "--replay":
                replay = value
                continue
            try:
                speed = float(value)
            except ValueError:
                speed = -1.0
            if speed < 0:
                raise QwenUsageError(
                    f"--speed takes a number of times the recorded pace (1: as recorded, 0: no "
                    f"waiting), not {value!r}."
                )
        else:
            raise QwenUsageError(
                "Use `%qwencmd emulator start`, or `%qwencmd emulator start --replay PATH "
                "[--speed X]` to answer from a recording (docs/recording.md)."
            )
    return replay, speed
