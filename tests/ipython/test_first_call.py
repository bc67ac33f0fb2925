"""The first call after %load_ext: fast (the SDK warmed in the background, in a kernel only)
and honest (the footer and Result.ttft count the user's whole wait, the SDK import included).

No timed assertions: what is checked is who imported what, and that the time spent before
the request (made slow on purpose) is inside the reported times.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply

SLOW_IMPORT = 0.3  # seconds the stand-in for a first SDK import takes


def test_the_first_token_time_counts_the_wait_for_the_sdk(ip, magics, emulator, comms, monkeypatch):
    from qwen_magic.providers.chat import ChatProvider

    prepare = ChatProvider.prepare
    waited: list[float] = []

    def slow_prepare(self: ChatProvider) -> None:  # as the first `import openai` is
        start = time.perf_counter()
        time.sleep(SLOW_IMPORT)
        prepare(self)
        waited.append(time.perf_counter() - start)

    monkeypatch.setattr(ChatProvider, "prepare", slow_prepare)
    emulator.queue(Reply(text="Blue light scatters more.", reasoning=""))
    with capture_output():
        ip.run_cell_magic("qwen", "-o r", "Why is the sky blue?")

    result = ip.user_ns["r"]
    assert result.error is None and result.text == "Blue light scatters more."
    assert len(waited) == 1
    assert result.ttft >= waited[0] and result.elapsed >= result.ttft
    footers = [
        str(data.get("state", {}).get("value", ""))
        for _, data in comms.messages
        if "<small>" in str(data.get("state", {}).get("value", ""))
    ]
    assert footers[0] == "<small>connecting…</small>"  # not a clock stuck at 0.0 s


def test_the_footer_says_connecting_until_something_comes_back() -> None:
    from qwen_magic.render.static import usage_line
    from qwen_magic.result import Result

    assert usage_line(Result(elapsed=1.24), name_model=False) == "connecting… · 1.2 s"
    assert "connecting" not in usage_line(Result(text="Hi", ttft=1.3, elapsed=1.4))
    assert "connecting" not in usage_line(Result(elapsed=1.0, interrupted=True))


RECORD_IMPORTS = """\
import sys, threading

class _WhoImports:
    seen = []

    def find_spec(self, name, path=None, target=None):
        if name in ("openai", "dashscope", "ipywidgets"):
            self.seen.append((name, threading.current_thread().name))
        return None

_who = _WhoImports()
sys.meta_path.insert(0, _who)
"""
JOIN_WARM_UP = (
    "import threading\n"
    "for _t in [t for t in threading.enumerate() if t.name == 'qwen-warm-up']:\n"
    "    _t.join(120)\n"
)


@pytest.fixture
def fresh_kernel() -> Iterator:
    pytest.importorskip("jupyter_client")
    from qwen_magic.testing.kernel import Kernel

    kernel = Kernel()
    yield kernel
    kernel.shutdown()


def test_in_a_kernel_load_ext_warms_the_sdk_in_the_background_only(fresh_kernel) -> None:
    kernel = fresh_kernel
    kernel.run(RECORD_IMPORTS)
    _, out = kernel.run(
        "%load_ext qwen_magic\n"
        "print(sorted(n for n, who in _who.seen if who == threading.current_thread().name))"
    )
    assert out.strip() == "[]"  # %load_ext itself imported no SDK (and no ipywidgets)
    kernel.run("%qwencmd emulator start")  # a new endpoint: its client is built in advance
    _, out = kernel.run(
        JOIN_WARM_UP + "from qwen_magic.providers import openai_common\n"
        "from qwen_magic.ipython import magics_of\n"
        "base = magics_of(get_ipython()).emulator.compat_base\n"
        "print(sorted(set(_who.seen)), any(k[0] == base for k in openai_common._clients))"
    )
    # openai and, as a person runs the cells here, ipywidgets: both off the kernel's thread
    assert out.strip() == "[('ipywidgets', 'qwen-warm-up'), ('openai', 'qwen-warm-up')] True"
    kernel.run("%%qwen -q\nHello")
    _, out = kernel.run("print(_qwen.error, _qwen.text)")
    assert out.strip() == "None Echo: Hello"


COMPLETE_MODELS = """\
import sys
import pydantic

def _complete_models():
    seen, todo = set(), [pydantic.BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c for c in seen if c.__dict__.get("__pydantic_complete__")}
"""


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_after_the_warm_up_the_first_call_leaves_the_sdk_nothing_to_build(fresh_kernel, api):
    """What made the first call slow is done in the background: the first answer (through the
    live view, as in JupyterLab) imports no library and builds no pydantic schema (the
    Responses API's event union alone has some 50 models the SDK builds on first use)."""
    kernel = fresh_kernel
    kernel.run(f"get_ipython().config.QwenMagics.api = {api!r}\n" + COMPLETE_MODELS)
    kernel.run("%load_ext qwen_magic\n%qwencmd emulator start")
    kernel.run(JOIN_WARM_UP + "_before = (set(sys.modules), _complete_models())")
    reply, _ = kernel.run("%%qwen\nHello")
    assert reply["content"]["status"] == "ok"
    _, out = kernel.run(
        "_new = sorted(set(sys.modules) - _before[0])\n"
        "_new = [m for m in _new if not m.startswith('qwen_magic')]\n"
        "print(_qwen.error, _qwen.text, _new, len(_complete_models() - _before[1]))"
    )
    assert out.strip() == "None Echo: Hello [] 0"


def test_the_warm_ups_responses_event_map_is_the_sdks_own() -> None:
    """The warm-up hands the SDK the Responses stream's event map (cheaply, from annotations):
    it must be the map the SDK would build itself, or events would come back as wrong
    classes. Checked in a fresh process, against the SDK's own construction."""
    code = (
        "from typing import get_args\n"
        "from openai._models import DISCRIMINATOR_CACHE, _build_discriminated_union_meta\n"
        "from openai.types.responses import ResponseStreamEvent\n"
        "from qwen_magic.ipython.rehearsal import seed_event_union\n"
        "union, *meta = get_args(ResponseStreamEvent)\n"
        "assert seed_event_union()\n"
        "ours = DISCRIMINATOR_CACHE.pop(union)\n"
        "sdk = _build_discriminated_union_meta(union=union, meta_annotations=tuple(meta))\n"
        "key = lambda d: (d.field_name, d.field_alias_from)\n"
        "print(ours.mapping == sdk.mapping, len(sdk.mapping) > 40, key(ours) == key(sdk))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_warm_up_off_imports_nothing_until_the_first_call(fresh_kernel) -> None:
    kernel = fresh_kernel
    kernel.run(RECORD_IMPORTS + "get_ipython().config.QwenMagics.warm_up = False\n")
    _, out = kernel.run(
        "%load_ext qwen_magic\n%qwencmd emulator start\n"
        + JOIN_WARM_UP
        + "print(sorted(set(_who.seen)), 'openai' in sys.modules)"
    )
    assert out.strip().splitlines()[-1] == "[] False"


def test_a_terminal_shell_starts_no_warm_up() -> None:
    code = (
        "import sys, threading\n"
        "from IPython.terminal.interactiveshell import TerminalInteractiveShell\n"
        "ip = TerminalInteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'qwen_magic')\n"
        "assert 'qwen' in ip.magics_manager.magics['cell']\n"
        "print([t.name for t in threading.enumerate() if t.name == 'qwen-warm-up'],\n"
        "      sorted(m for m in ('openai', 'dashscope', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[] []"
