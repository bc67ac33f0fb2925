"""Named chats: turns follow cells; re-running replaces and drops later turns; save/load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply


def ask(ip, line: str, prompt: str, cell_id: str | None) -> None:
    with capture_output():
        result = ip.run_cell(f"%%qwen -q {line}\n{prompt}", cell_id=cell_id)
    result.raise_error()


def user_texts(messages) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def test_cells_build_a_conversation_and_a_rerun_replaces_its_turn(ip, magics, emulator):
    ask(ip, "-c demo -s 'Be brief.'", "one", "cell-1")
    ask(ip, "-c demo", "two", "cell-2")
    ask(ip, "-c demo", "three", "cell-3")
    sent = emulator.last.messages
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert user_texts(sent) == ["one", "two", "three"]
    assert sent[2] == {"role": "assistant", "content": "Echo: one"}

    ask(ip, "-c demo", "two, edited", "cell-2")  # the user edits and re-runs the 2nd cell
    assert user_texts(emulator.last.messages) == ["one", "two, edited"]
    chat = magics.chats.get("demo")
    assert [t.user["content"] for t in chat.turns] == ["one", "two, edited"]  # third dropped

    ask(ip, "-c demo", "four", "cell-4")
    assert user_texts(emulator.last.messages) == ["one", "two, edited", "four"]


def test_without_cell_ids_turns_append(ip, magics, emulator) -> None:
    ask(ip, "-c t", "a", None)
    ask(ip, "-c t", "a", None)
    assert user_texts(emulator.last.messages) == ["a", "a"]
    assert len(magics.chats.get("t").turns) == 2


def test_failed_or_stopped_turns_are_not_recorded(ip, magics, emulator) -> None:
    ask(ip, "-c f", "first", "c1")
    emulator.queue(Reply(fault="http_500"))
    magics.max_retries = 0
    ask(ip, "-c f", "second", "c2")
    assert [t.user["content"] for t in magics.chats.get("f").turns] == ["first"]


def test_chats_history_reset_save_load(ip, magics, emulator, tmp_path) -> None:
    emulator.queue(Reply(text="Answer one.", reasoning="thinking one"))
    ask(ip, "-c s --think", "Q1", "x1")
    ask(ip, "-c s --no-think", "Q2", "x2")
    table = ip.run_line_magic("qwencmd", "chats")
    assert table.rows[1][:2] == ["s", "2"]
    md = ip.display_formatter.format(ip.run_line_magic("qwencmd", "history s"))[0]["text/markdown"]
    assert "**You:** Q1" in md and "Answer one." in md
    assert "<details><summary>Thinking</summary>\n\nthinking one" in md

    path = tmp_path / "s.json"
    with capture_output():
        ip.run_line_magic("qwencmd", f"save s {path}")
    data = json.loads(path.read_text())
    assert data["format"] == "qwen_magic.chat" and len(data["turns"]) == 2
    assert "sk-" not in path.read_text()

    with capture_output():
        ip.run_line_magic("qwencmd", "reset s")
        ip.run_line_magic("qwencmd", f"load s2 {path}")
    assert "s" not in magics.chats.chats
    ask(ip, "-c s2", "Q3", "x3")
    assert user_texts(emulator.last.messages) == ["Q1", "Q2", "Q3"]


def test_history_of_an_unknown_chat_is_a_usage_error(ip) -> None:
    with pytest.raises(UsageError, match="No chat named 'nope'"):
        ip.run_line_magic("qwencmd", "history nope")


def test_json_mode_parses_into_data(ip, magics, emulator) -> None:
    emulator.queue(Reply(text='{"sights": ["West Lake", "Lingyin"]}', reasoning=""))
    ask(ip, "--json -o r", "List sights.", None)
    r = ip.user_ns["r"]
    assert r.data == {"sights": ["West Lake", "Lingyin"]} and r.error is None
    body = emulator.last.body
    assert body["response_format"] == {"type": "json_object"}
    assert body["enable_thinking"] is False  # qwen3.5-plus thinks by default; JSON can't
    assert "json" in body["messages"][0]["content"].lower()  # the hint the service requires
    assert '```json\n{\n  "sights"' in ip.display_formatter.format(r)[0]["text/markdown"]


def test_invalid_json_is_an_error_that_keeps_the_raw_text(ip, emulator) -> None:
    emulator.queue(Reply(text="Sure! Here you go: {not json", reasoning=""))
    ask(ip, "--json -o r", "Give JSON.", None)
    r = ip.user_ns["r"]
    assert r.data is None and r.error.kind == "json"
    assert "Sure! Here you go" in ip.display_formatter.format(r)[0]["text/markdown"]


def test_json_with_thinking_is_refused_up_front(ip, emulator) -> None:
    with pytest.raises(UsageError, match="--json can't be combined with thinking"):
        ip.run_cell_magic("qwen", "--json --think", "JSON please")
    assert emulator.requests == []


def test_prefix_continues_the_text_and_is_stored_whole(ip, magics, emulator) -> None:
    ask(ip, "-c p --prefix 'Once upon a time'", "Tell a story.", "p1")
    sent = emulator.last.messages
    assert sent[-1] == {"role": "assistant", "content": "Once upon a time", "partial": True}
    r = ip.user_ns["_qwen"]
    assert r.text == "Once upon a time (continued)"
    assert magics.chats.get("p").turns[0].answer == r.text
    assert magics.chats.get("p").turns[0].user == {"role": "user", "content": "Tell a story."}


def test_format_code_puts_the_code_in_the_next_cell(ip, emulator, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(
        ip, "set_next_input", lambda text, replace=False: calls.append((text, replace))
    )
    emulator.queue(
        Reply(text="Here:\n```python\nprint('hi')\n```\nand\n```python\nx = 1\n```", reasoning="")
    )
    ask(ip, "-f code", "Code please.", None)
    assert calls == [("print('hi')\n\nx = 1", False)]
    emulator.queue(Reply(text="```bash\nls -l\n```", reasoning=""))
    ask(ip, "-f code", "Shell please.", None)
    assert calls[-1] == ("%%bash\nls -l", False)


def test_format_html_shows_html(ip, magics, emulator) -> None:
    magics.display = "final"
    emulator.queue(Reply(text="<b>bold</b>", reasoning=""))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-f html", "HTML please")
    assert "<b>bold</b>" in cap.outputs[0].data["text/html"]


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_each_api_sends_the_whole_conversation(ip, emulator, api: str) -> None:
    ask(ip, f"--api {api} -c multi -s 'Be kind.' --no-think", "first question", "m1")
    ask(ip, f"--api {api} -c multi --no-think", "second question", "m2")
    body = emulator.last.body
    if api == "chat":
        sent = body["messages"]
    elif api == "responses":
        assert body["instructions"] == "Be kind."
        sent = [{"role": "system", "content": "Be kind."}, *body["input"]]
    else:
        sent = body["input"]["messages"]

    def text(message) -> str:
        content = message["content"]
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content)
        return content

    assert [(m["role"], text(m).strip()) for m in sent] == [
        ("system", "Be kind."),
        ("user", "first question"),
        ("assistant", "Echo: first question"),
        ("user", "second question"),
    ]


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_json_mode_on_each_api(ip, emulator, api: str) -> None:
    emulator.queue(Reply(text='{"ok": true}', reasoning=""))
    ask(ip, f"--api {api} --json -o r", "Status as JSON.", None)
    assert ip.user_ns["r"].data == {"ok": True}
    body = emulator.last.body
    if api == "chat":
        assert body["response_format"] == {"type": "json_object"}
    elif api == "responses":
        assert body["text"]["format"] == {"type": "json_object"}
    else:
        assert body["parameters"]["response_format"] == {"type": "json_object"}


def test_two_questions_in_one_cell_both_count_and_a_rerun_replaces_both(ip, magics, emulator):
    cell = "%qwen -q -c two my name is Ann\n%qwen -q -c two what is my name?\n"
    with capture_output():
        ip.run_cell(cell, cell_id="c-two").raise_error()
    assert user_texts(emulator.last.messages) == ["my name is Ann", "what is my name?"]
    with capture_output():
        ip.run_cell(cell, cell_id="c-two").raise_error()  # re-run: the same two turns again
    assert user_texts(emulator.last.messages) == ["my name is Ann", "what is my name?"]
    assert len(magics.chats.get("two").turns) == 2


def test_damaged_chat_files_and_bad_paths_are_usage_errors(ip, magics, tmp_path) -> None:
    ask(ip, "-c d", "hi", None)
    with pytest.raises(UsageError, match="Could not save the chat"):
        ip.run_line_magic("qwencmd", f"save d {tmp_path}/missing/dir/d.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "qwen_magic.chat", "turns": [{"answer": "no user"}]}')
    with pytest.raises(UsageError, match="damaged"):
        ip.run_line_magic("qwencmd", f"load d2 {bad}")


# -- chat files: every field checked on load, bounded reads, no clobbering on save --------------
def chat_file(tmp_path, **changes) -> str:
    """A valid saved chat with ``changes`` applied (``turn`` / ``user`` / ``part`` patch the
    first turn, its user message and its first content part)."""
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    part.update(changes.pop("part", {}))
    user = {"role": "user", "content": [part, {"type": "text", "text": "What is it?"}]}
    user.update(changes.pop("user", {}))
    turn = {"user": user, "answer": "A cat.", "reasoning": "", "cell_id": None, "model": "m"}
    turn["usage"] = {"input_tokens": 3, "output_tokens": 2, "reasoning_tokens": None}
    turn.update(changes.pop("turn", {}))
    data = {"format": "qwen_magic.chat", "version": 1, "name": "c", "system": None}
    data["turns"] = [turn]
    data.update(changes)
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_valid_chat_file_loads_and_continues(ip, magics, emulator, tmp_path) -> None:
    with capture_output():
        ip.run_line_magic("qwencmd", f"load c {chat_file(tmp_path)}")
    ask(ip, "-c c", "And now?", None)
    sent = emulator.last.messages
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"][1] == {"type": "text", "text": "What is it?"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"turns": "x"}, "turns must be a list (it is text)"),
        ({"turns": [5]}, "turns[0] must be an object (it is a number 5)"),
        ({"system": 1}, "system must be text or null (it is a number 1)"),
        ({"version": "1"}, "version must be a whole number (it is text)"),
        ({"version": 3}, "saved by a newer qwen_magic (format version 3"),
        ({"turn": {"answer": 5}}, "turns[0].answer must be text (it is a number 5)"),
        ({"turn": {"answer": None}}, "turns[0].answer must be text (it is null)"),
        ({"turn": {"reasoning": ["x"]}}, "turns[0].reasoning must be text (it is a list)"),
        ({"turn": {"cell_id": 3}}, "turns[0].cell_id must be text or null"),
        ({"turn": {"usage": [1]}}, "turns[0].usage must be an object"),
        ({"turn": {"usage": {"input_tokens": "12"}}}, "usage.input_tokens must be a whole"),
        ({"turn": {"usage": {"input_tokens": True}}}, "usage.input_tokens must be a whole"),
        ({"user": {"content": 123}}, "user.content must be text or a list (it is a number 123)"),
        ({"user": {"role": "system"}}, "turns[0].user.role must be 'user' (it is 'system')"),
        ({"user": {"tool_calls": []}}, "turns[0].user has a field we never save: 'tool_calls'"),
        ({"part": {"type": "audio"}}, "content[0] is not a text, image, video or audio part"),
        ({"part": {"image_url": {"url": 5}}}, "content[0].image_url.url must be text"),
        ({"part": {"image_url": "x"}}, "content[0].image_url must be an object (it is text)"),
        ({"part": {"image_url": {"url": "x", "detail": "high"}}}, "must hold only a url"),
    ],
)
def test_a_chat_file_with_wrong_types_is_refused_on_load(ip, tmp_path, changes, message):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("qwencmd", f"load c {chat_file(tmp_path, **changes)}")
    assert message in str(info.value) and "is damaged" in str(info.value)
    assert "save it again" in str(info.value)


def test_a_deeply_nested_chat_file_is_a_clear_error(ip, tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"format": "qwen_magic.chat", "turns": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(UsageError, match="nested too deeply to be a qwen_magic chat"):
        ip.run_line_magic("qwencmd", f"load c {path}")
    path.write_text('{"format": "qwen_magic.chat", "turns": [' + "[" * 500 + "]" * 500 + "]}")
    with pytest.raises(UsageError, match=r"turns\[0\] must be an object \(it is a list\)"):
        ip.run_line_magic("qwencmd", f"load c {path}")


@pytest.mark.timeout(10)
def test_a_chat_file_is_read_only_if_it_is_a_small_regular_file(ip, tmp_path) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(UsageError, match="is a named pipe \\(FIFO\\), not a regular file"):
        ip.run_line_magic("qwencmd", f"load c {tmp_path / 'pipe.json'}")
    with pytest.raises(UsageError, match="is a device, not a regular file"):
        ip.run_line_magic("qwencmd", "load c /dev/zero")
    with open(tmp_path / "huge.json", "wb") as file:
        file.truncate(300 * 1_048_576)
    with pytest.raises(UsageError, match=r"is 300\.0 MB; chat files are read up to 256\.0 MB"):
        ip.run_line_magic("qwencmd", f"load c {tmp_path / 'huge.json'}")


def test_save_never_replaces_a_file_that_is_not_a_chat_without_force(ip, tmp_path) -> None:
    ask(ip, "-c s", "hi", None)
    notes = tmp_path / "notes.json"
    notes.write_text('{"my": "precious data"}')
    with pytest.raises(UsageError, match="already exists and is not a qwen_magic chat file"):
        ip.run_line_magic("qwencmd", f"save s {notes}")
    assert notes.read_text() == '{"my": "precious data"}'
    with capture_output():
        ip.run_line_magic("qwencmd", f"save s {notes} --force")
    assert json.loads(notes.read_text())["format"] == "qwen_magic.chat"
    with capture_output():
        ip.run_line_magic("qwencmd", f"save s {notes}")  # our own chat: saved over quietly
    assert [p.name for p in tmp_path.iterdir()] == ["notes.json"]  # no temporary left behind


@pytest.mark.timeout(10)
def test_save_refuses_folders_and_pipes_even_with_force(ip, tmp_path) -> None:
    ask(ip, "-c s", "hi", None)
    os.mkfifo(tmp_path / "pipe.json")
    for target in (tmp_path, tmp_path / "pipe.json"):
        with pytest.raises(UsageError, match="it is not a regular file"):
            ip.run_line_magic("qwencmd", f"save s {target} --force")
    with pytest.raises(UsageError, match=r"Use `%qwencmd save NAME PATH` \(add --force"):
        ip.run_line_magic("qwencmd", "save s")


# -- turns that used tools: history on each API, save/load, the schema ------------------------
WEATHER = '{"city": "Paris"}'


def tool_turn(**changes):
    """A saved turn in which the model called two tools (in parallel) before answering; built
    with the message builders, as the tool loop will build it."""
    from qwen_magic.events import ToolCall, ToolResult
    from qwen_magic.messages import assistant_message, tool_message

    calls = [ToolCall("call_1", "get_weather", WEATHER), ToolCall("call_2", "get_time", "{}")]
    tool_messages = [
        assistant_message("", calls),
        tool_message(ToolResult("call_1", '{"temp": 21}')),
        tool_message(ToolResult("call_2", "14:00")),
    ]
    turn = {"user": {"role": "user", "content": "Weather in Paris?"}, "answer": "21 °C at 14:00."}
    turn.update(model="m", usage={}, tool_messages=tool_messages)
    turn.update(changes)
    return turn


def tool_chat_file(tmp_path, name: str = "tools.json", **changes) -> str:
    data = {"format": "qwen_magic.chat", "version": 2, "name": "w", "system": None}
    data["turns"] = [tool_turn(**changes)]
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("api", "model"),
    [("chat", ""), ("responses", ""), ("dashscope", ""), ("dashscope", "-m qwen-plus")],
)
def test_a_turn_with_tool_calls_is_sent_as_history_on_each_api(ip, emulator, tmp_path, api, model):
    with capture_output():
        ip.run_line_magic("qwencmd", f"load w {tool_chat_file(tmp_path)}")
    ask(ip, f"--api {api} {model} -c w --no-think", "And tomorrow?", None)
    body = emulator.last.body
    calls = [
        {"id": i, "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, name, arguments in [("call_1", "get_weather", WEATHER), ("call_2", "get_time", "{}")]
    ]
    if api == "chat":
        assert body["messages"] == [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "14:00"},
            {"role": "assistant", "content": "21 °C at 14:00."},
            {"role": "user", "content": "And tomorrow?"},
        ]
    elif api == "responses":
        assert body["input"] == [
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather",
             "arguments": WEATHER},
            {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
            {"type": "function_call_output", "call_id": "call_2", "output": "14:00"},
            {"role": "assistant", "content": "21 °C at 14:00."},
            {"role": "user", "content": "And tomorrow?"},
        ]  # fmt: skip
    else:
        sent = body["input"]["messages"]
        assert body["parameters"]["result_format"] == "message"
        assert [m["role"] for m in sent] == [
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "user",
        ]
        assert sent[1]["tool_calls"] == calls and not sent[1]["content"]  # no empty text part
        assert [(m["tool_call_id"], m["content"]) for m in sent[2:4]] in (
            [("call_1", '{"temp": 21}'), ("call_2", "14:00")],  # text-generation
            [("call_1", [{"text": '{"temp": 21}'}]), ("call_2", [{"text": "14:00"}])],  # multimodal
        )


def test_a_chat_holding_a_tool_turn_saves_and_loads_unchanged(ip, magics, emulator, tmp_path):
    with capture_output():
        ip.run_line_magic("qwencmd", f"load w {tool_chat_file(tmp_path)}")
    ask(ip, "-c w", "And tomorrow?", "t2")
    saved = tmp_path / "saved.json"
    with capture_output():
        ip.run_line_magic("qwencmd", f"save w {saved}")
        ip.run_line_magic("qwencmd", f"load w2 {saved}")
    data = json.loads(saved.read_text())
    assert data["version"] == 2
    assert data["turns"][0]["tool_messages"] == tool_turn()["tool_messages"]
    assert data["turns"][1]["tool_messages"] == []
    first, second = magics.chats.get("w").turns, magics.chats.get("w2").turns
    assert [t.messages() for t in second] == [t.messages() for t in first]
    assert len(second[0].messages()) == 5  # question, calls, two results, answer


def test_a_version_1_chat_file_still_loads_and_is_saved_as_version_2(ip, magics, tmp_path):
    with capture_output():
        ip.run_line_magic("qwencmd", f"load c {chat_file(tmp_path)}")  # version 1, no tools
    assert magics.chats.get("c").turns[0].tool_messages == []
    saved = tmp_path / "again.json"
    with capture_output():
        ip.run_line_magic("qwencmd", f"save c {saved}")
    data = json.loads(saved.read_text())
    assert data["version"] == 2 and data["turns"][0]["answer"] == "A cat."


def _junk(index: int, **fields):
    """tool_messages of ``tool_turn`` with message ``index`` patched."""
    messages = json.loads(json.dumps(tool_turn()["tool_messages"]))
    messages[index].update(fields)
    return messages


CALL_ONE = tool_turn()["tool_messages"][0]["tool_calls"][0]


@pytest.mark.parametrize(
    ("tool_messages", "message"),
    [
        ("x", "tool_messages must be a list (it is text)"),
        ([5], "tool_messages[0] must be an object (it is a number 5)"),
        (_junk(0, role="system"), "tool_messages[0].role must be 'assistant' or 'tool'"),
        (_junk(0, tool_calls=[]), "tool_messages[0].tool_calls is empty"),
        (_junk(0, tool_calls="x"), "tool_messages[0].tool_calls must be a list"),
        (_junk(0, content=3), "tool_messages[0].content must be text or null"),
        (_junk(0, partial=True), "tool_messages[0] has a field we never save: 'partial'"),
        (_junk(0, tool_calls=[{**CALL_ONE, "type": "code"}]), ".tool_calls[0].type must be"),
        (_junk(0, tool_calls=[{**CALL_ONE, "id": 1}]), ".tool_calls[0].id must be text"),
        (
            _junk(0, tool_calls=[{**CALL_ONE, "function": {"name": "f", "arguments": {}}}]),
            ".tool_calls[0].function.arguments must be text (it is an object)",
        ),
        (
            _junk(0, tool_calls=[{**CALL_ONE, "function": {"name": "f", "arguments": "", "x": 1}}]),
            ".tool_calls[0].function has a field we never save: 'x'",
        ),
        (_junk(1, content=None), "tool_messages[1].content must be text (it is null)"),
        (_junk(1, tool_call_id="call_9"), "answers 'call_9', a call that was not asked for"),
        (_junk(1, name="get_weather"), "tool_messages[1] has a field we never save: 'name'"),
        (tool_turn()["tool_messages"][:2], "call 'call_2' has no result"),
        (tool_turn()["tool_messages"][1:], "answers 'call_1', a call that was not asked for"),
    ],
)
def test_junk_tool_messages_are_refused_on_load(ip, tmp_path, tool_messages, message):
    path = tool_chat_file(tmp_path, tool_messages=tool_messages)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("qwencmd", f"load w {path}")
    assert message in str(info.value) and "is damaged" in str(info.value)


def test_a_version_1_file_with_tool_messages_is_refused(ip, tmp_path) -> None:
    path = tmp_path / "v1.json"
    data = json.loads(Path(tool_chat_file(tmp_path)).read_text())
    data["version"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="tool_messages, which format version 1 never saved"):
        ip.run_line_magic("qwencmd", f"load w {path}")
