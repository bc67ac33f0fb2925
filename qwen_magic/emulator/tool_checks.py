"""The service's refusals of a malformed tool conversation (a 400 before any answer)."""

from __future__ import annotations

from typing import Any

from qwen_magic.emulator.faults import ApiError

ALGO = "<400> InternalError.Algo.InvalidParameter: "
ORPHAN_TOOL = (
    'messages with role "tool" must be a response to a preceeding message with "tool_calls".'
)
UNANSWERED = (
    'An assistant message with "tool_calls" must be followed by tool messages responding to '
    'each "tool_call_id". The following tool_call_ids did not have response messages: '
    "message[{at}].role"
)


def check_tool_messages(messages: list[dict[str, Any]]) -> None:
    """Chat and native: every ``role: tool`` message answers a call of the assistant message
    before it, and every call is answered before the conversation goes on (the service's
    400s, worded as it words them)."""
    pending: dict[str, int] = {}  # call id -> the assistant message's position
    for at, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in pending:
                raise _refused(ORPHAN_TOOL, f"messages.[{at}].role")
            del pending[call_id]
            continue
        if pending:
            raise _refused(UNANSWERED.format(at=min(pending.values())), f"messages.[{at}].role")
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    pending[call["id"]] = at
    if pending:
        raise _refused(UNANSWERED.format(at=min(pending.values())), "messages")


def check_function_outputs(items: list[dict[str, Any]]) -> None:
    """Responses: each ``function_call_output`` answers an earlier ``function_call`` (OpenAI's
    wording; the service's own is not documented) and each call gets an output."""
    calls: dict[str, bool] = {}
    for item in items:
        if item.get("type") == "function_call":
            calls[str(item.get("call_id"))] = False
        elif item.get("type") == "function_call_output":
            call_id = str(item.get("call_id"))
            if call_id not in calls:
                raise _refused(
                    f"No tool call found for function call output with call_id {call_id}.",
                    "input",
                )
            calls[call_id] = True
    missing = [call_id for call_id, answered in calls.items() if not answered]
    if missing:
        raise _refused(f"No tool output found for function call {missing[0]}.", "input")


def _refused(message: str, param: str) -> ApiError:
    algo = message if message.startswith("No tool") else ALGO + message
    return ApiError(400, "InvalidParameter", algo, param=param)
