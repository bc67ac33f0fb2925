"""A finished job's output and error files → ``Results`` in input order.

The service writes the lines in any order; each is put back at the position its
``custom_id`` names. A success is folded by the chat protocol's own fold (``ChatStream``), so
reasoning, ``<think>`` tags and usage read as for a streamed answer; a failed line carries its
error; an item no file mentions (the job was cancelled, expired or failed first) says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from qwen_magic.batch.jsonl import position_of
from qwen_magic.errors import ServiceError, hint_for
from qwen_magic.events import Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.masking import redact, redact_fields, redact_object
from qwen_magic.result import Result
from qwen_magic.results import Results


def read_lines(text: str) -> Iterable[dict[str, Any]]:
    for raw in text.splitlines():
        if raw.strip():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(line, dict):
                yield line


class Assembler:
    """Collects result lines for ``count`` positions, then gives the Results."""

    def __init__(self, count: int, *, model: str, region: str | None, base_url: str) -> None:
        self.count = count
        self.model = model
        self.region = region
        self.base_url = base_url
        self.slots: list[Result | None] = [None] * count

    def add(self, text: str) -> None:
        for line in read_lines(text):
            position = position_of(line.get("custom_id"))
            if position is None or not 0 <= position < self.count:
                continue
            self.slots[position] = self._result(line)

    def missing(self, positions: Iterable[int], why: str) -> None:
        """Items a part never answered (its job ended first): each gets ``why``."""
        for position in positions:
            if 0 <= position < self.count and self.slots[position] is None:
                self.slots[position] = Result(
                    model=self.model,
                    api="batch",
                    region=self.region,
                    error=ServiceError("batch", why, hint="submit these items again."),
                )

    def results(self, items: list[Any] | None, prompts: list[str] | None) -> Results:
        done = [
            slot
            if slot is not None
            else Result(
                model=self.model,
                api="batch",
                region=self.region,
                error=ServiceError("batch", "no result came back for this item"),
            )
            for slot in self.slots
        ]
        return Results(done, list(items or []), list(prompts or []))

    def _result(self, line: dict[str, Any]) -> Result:
        given = line.get("response")
        response: dict[str, Any] = given if isinstance(given, dict) else {}
        status = response.get("status_code")
        request_id = response.get("request_id")
        body = response.get("body")
        if status == 200 and isinstance(body, dict) and not line.get("error"):
            return self._success(body, request_id)
        given = line.get("error")
        error: dict[str, Any] = given if isinstance(given, dict) else {}
        inner = body.get("error") if isinstance(body, dict) else None
        nested: dict[str, Any] = inner if isinstance(inner, dict) else {}
        failure = ServiceError(
            "http",
            str(error.get("message") or nested.get("message") or "the request failed"),
            status=status if isinstance(status, int) else None,
            code=str(error.get("code") or nested.get("code") or "") or None,
            request_id=request_id if isinstance(request_id, str) else None,
        )
        failure.hint = hint_for(
            failure, region=self.region, base_url=self.base_url, model=self.model
        )
        return Result(
            model=self.model,
            api="batch",
            region=self.region,
            request_id=failure.request_id,
            error=redact_fields(failure),
            raw=redact_object(line),
        )

    def _success(self, body: dict[str, Any], request_id: Any) -> Result:
        from openai.types.chat import ChatCompletion

        from qwen_magic.providers.chat import ChatStream

        text: list[str] = []
        reasoning: list[str] = []
        result = Result(model=str(body.get("model") or self.model), api="batch")
        result.region = self.region
        result.request_id = request_id if isinstance(request_id, str) else None
        try:
            for event in ChatStream(result.request_id).whole(ChatCompletion.construct(**body)):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                elif isinstance(event, Usage):
                    result.usage = event
                elif isinstance(event, Finished):
                    result.finish_reason = event.finish_reason
                elif isinstance(event, Failed):
                    result.error = event.error
                elif isinstance(event, Started):
                    continue
        except Exception as exc:  # a line of the wrong shape: that item failed, not the job
            error = getattr(exc, "error", None)
            result.error = error() if callable(error) else ServiceError("server", str(exc))
        result.text = redact("".join(text))
        result.reasoning = redact("".join(reasoning))
        result.error = redact_fields(result.error)
        result.raw = redact_object(body)
        return result
