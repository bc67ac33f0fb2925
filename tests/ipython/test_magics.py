"""%%qwen and %qwen in an in-process IPython shell, against the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.ipython import magics_of
from qwen_magic.result import Result
from qwen_magic.testing import Reply


def run_cell(ip, line: str, cell: str):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, cell)
    return cap


def test_load_ext_does_not_import_the_sdks() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'qwen_magic')\n"
        "assert 'qwen' in ip.magics_manager.magics['cell']\n"
        "print(sorted(m for m in ('openai', 'dashscope', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unload_removes_every_magic(shell) -> None:
    shell.run_line_magic("load_ext", "qwen_magic")
    assert {"qwen", "qwencmd"} <= set(shell.magics_manager.magics["line"])
    shell.run_line_magic("unload_ext", "qwen_magic")
    assert "qwen" not in shell.magics_manager.magics["line"]
    assert "qwen" not in shell.magics_manager.magics["cell"]
    assert "qwencmd" not in shell.magics_manager.magics["line"]
    shell.run_line_magic("load_ext", "qwen_magic")  # and it loads again
    assert "qwen" in shell.magics_manager.magics["cell"]
    shell.run_line_magic("unload_ext", "qwen_magic")


def test_cell_streams_live_then_leaves_one_static_markdown_output(ip, emulator) -> None:
    emulator.queue(Reply(text="Paris is the capital.", reasoning="France... capital.", chunks=5))
    cap = run_cell(ip, "--think", "What is the capital of France?")
    live, final = cap.outputs[0], cap.outputs[-1]
    assert "application/vnd.jupyter.widget-view+json" in live.data
    md = final.data["text/markdown"]
    assert md.startswith("<details><summary>Thought for ")
    assert "France... capital." in md
    assert "Paris is the capital." in md
    assert "qwen3.5-plus · chat · emulator" in md
    assert "text/plain" in final.data and "Paris is the capital." in final.data["text/plain"]
    assert emulator.last.body["enable_thinking"] is True
    assert emulator.last.body["stream_options"] == {"include_usage": True}


def test_result_is_stored_in_underscore_qwen_and_out_and_cell_returns_nothing(ip, emulator):
    emulator.queue(Reply(text="42", reasoning=""))
    with capture_output():
        value = ip.run_cell("%%qwen -o r --no-think\nThe answer?").result
    assert value is None  # no Out[] echo
    r = ip.user_ns["r"]
    assert isinstance(r, Result) and r is ip.user_ns["_qwen"]
    assert (r.text, r.reasoning, r.finish_reason, r.error) == ("42", "", "stop", None)
    assert r.usage.output_tokens == 1 and r.usage.input_tokens
    assert r.ttft is not None and r.elapsed >= r.ttft
    assert r.messages == [{"role": "user", "content": "The answer?"}]
    assert "42" in ip.display_formatter.format(r)[0]["text/markdown"]


def test_line_magic_keeps_the_prompt_as_typed(ip, emulator) -> None:
    with capture_output():
        ip.run_line_magic("qwen", '-m qwen-plus -t 0.3 what\'s the capital of "France"?')
    body = emulator.last.body
    assert body["model"] == "qwen-plus" and body["temperature"] == 0.3
    assert body["messages"][-1]["content"] == 'what\'s the capital of "France"?'


def test_options_reach_the_request_body(ip, emulator) -> None:
    run_cell(
        ip,
        "-s 'Be brief.' --preset code_generation --top-p 0.5 --max-tokens 50 --seed 7 "
        "--stop END --thinking-budget 30",
        "Write code.",
    )
    body = emulator.last.body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["temperature"] == 0.2  # from the preset
    assert body["top_p"] == 0.5  # explicit wins over the preset
    assert (body["max_tokens"], body["seed"], body["stop"]) == (50, 7, ["END"])
    assert (body["enable_thinking"], body["thinking_budget"]) == (True, 30)


def test_config_traits_are_the_defaults(ip, magics, emulator) -> None:
    ip.run_line_magic("config", "QwenMagics.model = 'qwen-flash'")
    ip.run_line_magic("config", "QwenMagics.system = 'You are terse.'")
    run_cell(ip, "", "Hi")
    assert emulator.last.body["model"] == "qwen-flash"
    assert emulator.last.body["messages"][0]["content"] == "You are terse."


def test_interpolates_user_variables(ip, emulator) -> None:
    ip.user_ns["city"] = "Hangzhou"
    ip.user_ns["nums"] = [3, 4]
    run_cell(ip, "", "Tell me about {city} and {nums[1]}; keep {{braces}}.")
    assert emulator.last.messages[-1]["content"] == "Tell me about Hangzhou and 4; keep {braces}."


def test_a_call_in_a_prompt_is_sent_as_written_and_the_kernel_survives(ip, emulator) -> None:
    """The issue's reproduction: `{exit()}` used to end the kernel."""
    with capture_output() as cap:
        ip.run_line_magic("qwen", "What does {exit()} do in Python?")
    assert ip.exit_now is False
    assert emulator.last.messages[-1]["content"] == "What does {exit()} do in Python?"
    assert "qwen: sent {exit()} as written" in cap.stderr
    assert "exit() and quit() never run from a prompt" in cap.stderr


def test_no_shell_command_runs_from_a_prompt(ip, emulator, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    prompt = "Explain {__import__('os').system('touch pwned')} please."
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "", prompt)
    assert not (tmp_path / "pwned").exists()
    assert emulator.last.messages[-1]["content"] == prompt
    assert "--eval" in cap.stderr and "interpolate_calls" in cap.stderr


def test_calls_run_only_with_the_opt_in_and_exit_never(ip, magics, emulator) -> None:
    ip.user_ns["nums"] = [3, 4]
    run_cell(ip, "--eval", "{len(nums)} numbers, doubled {nums[1] * 2}.")
    assert emulator.last.messages[-1]["content"] == "2 numbers, doubled 8."
    magics.interpolate_calls = True  # the same, for every cell
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "", "{max(nums)}; {quit()}")
    assert emulator.last.messages[-1]["content"] == "4; {quit()}"
    assert ip.exit_now is False and "never run" in cap.stderr


def test_display_final_publishes_exactly_one_static_output(ip, magics, emulator) -> None:
    magics.display = "final"
    emulator.queue(Reply(text="Hello", reasoning=""))
    cap = run_cell(ip, "", "Hi")
    assert len(cap.outputs) == 1
    assert set(cap.outputs[0].data) == {"text/markdown", "text/plain"}


@pytest.mark.parametrize("how", ["-q", "display"])
def test_quiet_and_display_none_show_nothing_but_store_the_result(ip, magics, emulator, how):
    if how == "display":
        magics.display = "none"
    emulator.queue(Reply(text="Silent", reasoning=""))
    cap = run_cell(ip, "-q" if how == "-q" else "", "Hi")
    assert cap.outputs == [] and cap.stdout == ""
    assert ip.user_ns["_qwen"].text == "Silent"


def test_no_stream_gives_the_same_result(ip, emulator) -> None:
    emulator.queue(Reply(text="Whole answer.", reasoning="Why not."))
    run_cell(ip, "--no-stream -m qwen-plus --think", "Hi")
    r = ip.user_ns["_qwen"]
    assert emulator.last.body.get("stream") in (None, False)  # not a stream request
    assert (r.text, r.reasoning) == ("Whole answer.", "Why not.")
    assert r.usage.reasoning_tokens == 2  # the emulator counts one token per word


def test_ui_updates_for_a_2000_chunk_stream_are_bounded(ip, magics, emulator, comms) -> None:
    magics.update_interval = 0.1
    text = "word " * 2000
    emulator.queue(Reply(text=text, reasoning="", chunks=2000, delay=0.0002))
    cap = run_cell(ip, "", "Write a lot.")
    r = ip.user_ns["_qwen"]
    assert r.text == text
    refreshes_allowed = r.elapsed / magics.update_interval + 3
    # a refresh touches a handful of widgets (answer tail, footer, ...), never one per chunk
    assert len(comms.updates) <= 6 * refreshes_allowed
    assert len(comms.updates) < 2000 / 10
    assert cap.outputs[-1].data["text/markdown"].count("word") == 2000


def test_live_view_collapses_thinking_when_the_answer_starts(ip, magics, emulator, comms):
    emulator.queue(
        Reply(text="The answer goes on. " * 20, reasoning="Let me think " * 20, delay=0.01)
    )
    run_cell(ip, "--think", "Hi")
    titles = [d["state"]["titles"] for d in comms.updates if "titles" in d.get("state", {})]
    indexes = [
        d["state"]["selected_index"] for d in comms.updates if "selected_index" in d["state"]
    ]
    assert titles and titles[-1][0].startswith("Thought for ")
    assert indexes and indexes[-1] is None  # collapsed


def test_widgets_are_closed_after_the_answer(ip, emulator) -> None:
    from ipywidgets.widgets.widget import _instances

    before = len(_instances)
    for _ in range(3):
        run_cell(ip, "--think", "Hi")
    assert len(_instances) == before


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("-t 2.5", "temperature (-t) must be in [0, 2)"),
        ("--top-p 0", "top_p (--top-p) must be in (0, 1]"),
        ("--region mars", "Unknown region 'mars'"),
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--api soap", "invalid choice: 'soap'"),
        ("-m qwen-plus,", "has an empty model name"),
        ("-o 1x", "-o/--out needs a Python variable name"),
        ("-o get_ipython", "-o get_ipython would replace IPython's own 'get_ipython'"),
        ("-o exit", "would replace IPython's own 'exit'"),
        ("-o quit", "would replace IPython's own"),
        ("-o In", "would replace IPython's own 'In'"),
        ("-o Out", "would replace IPython's own 'Out'"),
        ("-o _", "would replace IPython's own '_'"),
        ("-o __", "would replace IPython's own"),
        ("-o _i", "would replace IPython's own"),
        ("-o _ih", "would replace IPython's own"),
        ("-o _oh", "would replace IPython's own"),
        ("-o _i3", "would replace IPython's own '_i3'"),
        ("-o _12", "would replace IPython's own '_12'"),
        ("-o __name__", "would replace IPython's own"),
        ("-o print", "-o print would hide Python's built-in 'print'"),
        ("-o len", "would hide Python's built-in 'len'"),
        ("-m ''", "-m/--model is empty"),
        ("-m ' '", "-m/--model is empty"),
        ("--base-url ''", "--base-url is empty"),
        ("--stop ''", "--stop needs a non-empty stop sequence"),
        ("--thinking-budget 0", "--thinking-budget must be at least 1"),
        ("-m qwq-plus --no-think", "always thinks"),
        ("-m qwen3-32b --think --no-stream", "can only think while streaming"),
    ],
)
def test_bad_input_is_a_usage_error_before_any_request(ip, emulator, line, fragment) -> None:
    with pytest.raises(UsageError, match=None) as info:
        ip.run_cell_magic("qwen", line, "Hi")
    assert fragment in str(info.value)
    assert emulator.requests == []


def test_empty_prompt_and_undefined_name_are_usage_errors(ip, emulator) -> None:
    with pytest.raises(UsageError, match="prompt is empty"):
        ip.run_cell_magic("qwen", "", "   \n")
    with pytest.raises(UsageError, match=r"\{\{nowhere\}\}.*--raw"):
        ip.run_cell_magic("qwen", "", "Where is {nowhere}?")
    assert emulator.requests == []


def test_missing_key_says_how_to_set_it(ip, magics, emulator, monkeypatch) -> None:
    magics.use_emulator(None)
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    with pytest.raises(UsageError, match="DASHSCOPE_API_KEY.*%qwencmd key"):
        ip.run_cell_magic("qwen", "", "Hi")


def test_frankfurt_needs_a_workspace(ip, magics) -> None:
    magics.use_emulator(None)
    with pytest.raises(UsageError, match="workspace"):
        ip.run_cell_magic("qwen", "--region de", "Hi")


def test_help_is_a_real_manual(ip) -> None:
    doc = ip.find_cell_magic("qwen").__doc__
    needles = ("Usage: %qwen", "--think", "--preset", "-o NAME", "_qwen", "%qwencmd", "--eval")
    for needle in (*needles, "interpolate_calls", "quit()", "regular files"):
        assert needle in doc


def test_a_line_prompt_ending_in_a_question_mark_is_a_prompt_not_help(ip, emulator) -> None:
    with capture_output() as cap:
        ip.run_cell("%qwen -m qwen-plus What is the capital of France?")
        ip.run_cell("if True:\n    %qwen -q -o r what's up?\n")
    assert "not found" not in cap.stdout
    assert [r.messages[-1]["content"] for r in emulator.requests] == [
        "What is the capital of France?",
        "what's up?",
    ]
    with capture_output() as cap:
        ip.run_cell("%qwen?")  # still IPython's help
    assert "Ask a Qwen model" in cap.stdout and len(emulator.requests) == 2


def test_a_worker_that_fails_before_streaming_ends_the_cell(ip, magics, monkeypatch) -> None:
    from qwen_magic.providers.chat import ChatProvider

    def broken(self) -> None:
        raise RuntimeError("client could not be built")

    monkeypatch.setattr(ChatProvider, "prepare", broken)
    with capture_output():
        ip.run_cell_magic("qwen", "-o r", "Hi")
    error = ip.user_ns["r"].error
    assert error.kind == "internal" and "client could not be built" in error.message


def test_quiet_still_reports_a_failure_on_stderr(ip, magics, emulator) -> None:
    magics.max_retries = 0
    emulator.queue(Reply(fault="http_401"))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-q", "Hi")
    assert cap.outputs == [] and cap.stdout == ""
    assert "qwen: The service answered with an error (HTTP 401)" in cap.stderr
    assert "keys are per region" in cap.stderr


def test_out_may_name_underscore_qwen(ip, emulator) -> None:
    run_cell(ip, "-o _qwen", "Hi")
    assert ip.user_ns["_qwen"].text == "Echo: Hi"


# -- every trait is checked when it is set ----------------------------------------------------
@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("timeout = 0", "QwenMagics.timeout must be more than 0 (seconds to wait"),
        ("timeout = float('nan')", "QwenMagics.timeout must be more than 0"),
        ("deadline = -5", "QwenMagics.deadline must be more than 0"),
        ("max_retries = -1", "QwenMagics.max_retries must be between 0 and 10"),
        ("concurrency = 0", "QwenMagics.concurrency must be between 1 and 64"),
        ("update_interval = 0", "QwenMagics.update_interval must be between 0.02 and 60"),
        ("thinking_budget = 0", "QwenMagics.thinking_budget must be at least 1"),
        ("model = ''", "QwenMagics.model needs a model name"),
        ("region = 'mars'", "QwenMagics.region = 'mars' is not a region: use one of sg, us"),
        ("base_url = 'ftp://example.com'", "QwenMagics.base_url 'ftp://example.com' is refused"),
        ("workspace = 'ws.evil.com'", "is not a Model Studio workspace id"),
        ("api_key_env = 'sk-123'", "is not an environment variable name"),
    ],
)
def test_a_bad_config_value_is_refused_at_config_time(ip, magics, caplog, assignment, message):
    name = assignment.split(" ")[0]
    before = getattr(magics, name)
    ip.run_line_magic("config", f"QwenMagics.{assignment}")
    assert message in caplog.text  # %config shows it at once, as one line
    assert getattr(magics, name) == before  # and the setting is unchanged
    ip.run_line_magic("unload_ext", "qwen_magic")
    ip.run_line_magic("load_ext", "qwen_magic")  # the extension still loads
    assert getattr(magics_of(ip), name) == magics.trait_defaults(name)  # not the refused one
    assert name not in ip.config.get("QwenMagics", {})  # which is not kept either


def test_good_config_values_are_taken(ip, magics) -> None:
    ip.run_line_magic("config", "QwenMagics.timeout = 5")
    ip.run_line_magic("config", "QwenMagics.base_url = 'http://localhost:11434/v1/'")
    ip.run_line_magic("config", "QwenMagics.thinking_budget = None")
    ip.run_line_magic("config", "QwenMagics.deadline = None")
    assert (magics.timeout, magics.base_url, magics.thinking_budget) == (
        5.0,
        "http://localhost:11434/v1",
        None,
    )
    ip.run_line_magic("config", "QwenMagics.base_url = ''")  # clears it
    assert magics.base_url is None


def test_a_bad_value_in_the_configuration_file_is_a_clear_error_at_load(shell) -> None:
    from traitlets import TraitError

    shell.config.QwenMagics.max_retries = -1
    try:
        with pytest.raises(TraitError, match="QwenMagics.max_retries must be between 0 and 10"):
            shell.run_line_magic("load_ext", "qwen_magic")
    finally:
        shell.config.pop("QwenMagics", None)
        shell.run_line_magic("unload_ext", "qwen_magic")


# -- _qwen and -o always hold this cell's Result ----------------------------------------------
def test_a_failed_cell_still_replaces_underscore_qwen(ip, magics, emulator) -> None:
    run_cell(ip, "-o r", "first")
    magics.max_retries = 0
    emulator.queue(Reply(fault="http_500"))
    run_cell(ip, "-o r", "second")
    result = ip.user_ns["_qwen"]
    assert result is ip.user_ns["r"] and result.error is not None and result.error.status == 500
    assert result.messages[-1]["content"] == "second"


def test_a_runner_bug_still_stores_a_result_and_replaces_the_live_view(ip, monkeypatch) -> None:
    import qwen_magic.runner

    def broken(requests, renderer, interval, concurrency, **_):
        renderer.start(requests, lambda: None)
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(qwen_magic.runner, "execute_many", broken)
    ip.user_ns["_qwen"] = "stale"
    cap = run_cell(ip, "-o r", "Hi")
    result = ip.user_ns["_qwen"]
    assert isinstance(result, Result) and ip.user_ns["r"] is result
    assert result.error.kind == "internal" and "TypeError" in result.error.message
    assert "text/markdown" in cap.outputs[-1].data  # the static output, not a live view
    assert "Something went wrong inside qwen_magic" in cap.outputs[-1].data["text/markdown"]


def test_an_interrupt_outside_the_runner_still_stores_a_result(ip, monkeypatch) -> None:
    import qwen_magic.runner

    def interrupted(requests, renderer, interval, concurrency, **_):
        raise KeyboardInterrupt

    monkeypatch.setattr(qwen_magic.runner, "execute_many", interrupted)
    run_cell(ip, "-o r", "Hi")  # absorbed: the cell ends normally
    assert ip.user_ns["r"].interrupted and ip.user_ns["r"] is ip.user_ns["_qwen"]


def test_the_coroutine_path_stores_a_result_when_the_runner_breaks(ip, magics, monkeypatch):
    import asyncio

    import qwen_magic.runner

    async def broken(requests, renderer, interval, concurrency, **_):
        raise RuntimeError("boom")

    monkeypatch.setattr(qwen_magic.runner, "execute_many_async", broken)
    with capture_output():
        asyncio.run(magics.qwen_async("-o r -q", "Hi"))
    assert ip.user_ns["r"].error.kind == "internal" and ip.user_ns["r"] is ip.user_ns["_qwen"]


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_a_whole_answer_shows_no_stream_rate_and_no_first_token(ip, magics, emulator, api):
    """--no-stream: nothing streamed, so no first-token time, no "thought for 0.0 s", and no
    tokens per second divided by almost nothing (a real server showed 166,981 tok/s)."""
    magics.display = "final"
    emulator.queue(Reply(text="word " * 40, reasoning="Let me think. " * 10, delay=0.05))
    cap = run_cell(ip, f"--api {api} -m qwen-plus --think --no-stream -o r", "Hello")
    r = ip.user_ns["r"]
    footer = cap.outputs[0].data["text/plain"].splitlines()[-1]
    assert r.reasoning and r.text and r.ttft is None and r.reasoning_time is None
    assert "tok/s" not in footer and "first token" not in footer
    assert "Thought for 0.0 s" not in cap.outputs[0].data["text/markdown"]


@pytest.mark.parametrize("fault", ["http_401", "http_429", "http_500"])
def test_an_error_before_any_token_does_not_blame_late_token_counts(ip, magics, emulator, fault):
    magics.display = "final"
    magics.max_retries = 0
    emulator.queue(Reply(fault=fault, retry_after="0"))
    cap = run_cell(ip, "-o r", "Hello")
    assert ip.user_ns["r"].error is not None
    assert "tokens not reported" not in cap.outputs[0].data["text/markdown"]


def test_a_refused_local_server_asks_whether_it_is_up(ip, magics) -> None:
    from qwen_magic.testing import free_port

    magics.use_emulator(None)
    magics.base_url = f"http://127.0.0.1:{free_port()}/v1"
    magics.max_retries = 0
    run_cell(ip, "-q -o r", "Hello")
    hint = ip.user_ns["r"].error.hint
    assert hint.endswith("is the server up?") and "?." not in hint


def test_when_the_view_fails_the_answer_shows_as_text_without_escapes(ip, emulator, monkeypatch):
    from qwen_magic.render.live import LiveRenderer

    def broken(self, results):  # a widget library that fails at the end of the answer
        raise RuntimeError("the frontend went away")

    monkeypatch.setattr(LiveRenderer, "finish", broken)
    emulator.queue(Reply(text="Hello\x1b]52;c;ZXZpbA==\x07\x1b[2J there"))
    cap = run_cell(ip, "-o r", "Hi")
    shown = cap.outputs[-1].data["text/plain"]
    assert "Hello" in shown and "there" in shown and "the display failed" in shown
    assert "\x1b" not in shown and "\x07" not in shown
    assert ip.user_ns["r"].text.startswith("Hello")  # the Result keeps what was said
