"""``%%qwen`` in a real JupyterLab, driven through Debian's Chromium with pip playwright.

What a user sees is checked in the browser itself: while the answer streams, a widget view
(a "Thinking…" accordion, a Stop button) is on screen; when it is done, the widget view has been
replaced by static Markdown (``<details><summary>Thought for …``, the answer with its code
block, the ``<sub>`` usage line) and the summary opens when clicked.

Setup (CI): ``bash scripts/install-browser.sh`` (apt-get installs /usr/bin/chromium if missing)
and ``pip install -e '.[dev]'`` (jupyterlab, playwright). ``playwright install`` is never needed.
Run::

    .venv/bin/pytest -m browser tests/browser -v -s   # -s prints where the screenshots are

Everything runs on 127.0.0.1: the notebook starts the package's offline emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: run `bash scripts/install-browser.sh` (apt-get chromium)",
    ),
]

pw = pytest.importorskip(
    "playwright.sync_api",
    reason="pip playwright is not installed: pip install -e '.[browser]' (no `playwright install`)",
)
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed: pip install -e '.[browser]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")

expect = pw.expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # A wheel scrolls at once: a test that scrolls, then measures, reads the position it
    # scrolled to, not one mid-animation (on a loaded machine the animation outlasts the wait).
    "--disable-smooth-scrolling",
]
KERNEL_NAME = "python3"
KERNEL_DISPLAY = "Python 3 (qwen_magic test venv)"
SERVER_START_TIMEOUT = 60.0
LONG = 60_000  # ms: page load, kernel start, a whole cell run (shared, noisy machines)

REASONING = (
    "The user wants a small greeting function. I will show it in a Python code block, "
    "then explain how to call it. Keep it short and friendly."
)
ANSWER = """Here is a **small function** that greets someone:

```python
def greet(name: str) -> str:
    return "Hello, " + name + "!"
```

Call it as `greet("Ada")`; it returns the text *Hello, Ada!*.

1. It takes one argument.
2. It builds the greeting.
3. It returns it.
"""
STOP_ANSWER = "".join(f"Line {i} of a long answer.\n\n" for i in range(1, 201))

# JupyterLab, seen from the page (``--LabApp.expose_app_in_browser`` sets window.jupyterapp).
JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path) return w;
  }
  return null;
}
"""
JS_KERNEL_IDLE = f"""
(path) => {{
  const w = ({JS_PANEL})(path);
  if (!w || !w.sessionContext || !w.sessionContext.isReady) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected'
    && w.sessionContext.kernelDisplayName === {json.dumps(KERNEL_DISPLAY)};
}}
"""
JS_RUN_ALL = f"""
(path) => {{
  const app = window.jupyterapp;
  const w = ({JS_PANEL})(path);
  app.shell.activateById(w.id);
  if (app.shell.currentWidget !== w) throw new Error('the notebook is not the current widget');
  app.commands.execute('notebook:run-all-cells');  // not awaited: we watch it stream
  return true;
}}
"""
JS_SHUTDOWN_KERNELS = """
async () => {
  if (window.jupyterapp) await window.jupyterapp.serviceManager.sessions.shutdownAll();
  return true;
}
"""


# --------------------------------------------------------------------------- fixtures
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _write_kernelspec(data_dir: Path) -> None:
    """A ``python3`` kernelspec that runs this very interpreter (the venv's), found first."""
    spec = data_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": KERNEL_DISPLAY,
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )


def _write_lab_settings(settings_dir: Path) -> None:
    """No "Jupyter news" toast, no update check (both would reach for the internet)."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": KERNEL_DISPLAY,
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


class Lab:
    """One JupyterLab server and one Chromium, shared by this module's tests."""

    def __init__(
        self, base_url: str, root: Path, shots: Path, browser: Any, kernel_pids: set[int]
    ) -> None:
        self.base_url = base_url
        self.root = root
        self.shots = shots
        self.browser = browser
        self.kernel_pids = kernel_pids  # as each kernel printed it (see KERNEL_CELL)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("jupyterlab")
    root, data, config, runtime, ipython, settings, workspaces = (
        base / name
        for name in ("root", "data", "config", "runtime", "ipython", "settings", "workspaces")
    )
    for directory in (root, data, config, runtime, ipython, workspaces):
        directory.mkdir()
    _write_kernelspec(data)
    _write_lab_settings(settings)
    shots = tmp_path_factory.mktemp("screenshots")

    env = dict(os.environ)
    for name in (
        "DASHSCOPE_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DASHSCOPE_HTTP_BASE_URL",
    ):
        env.pop(name, None)  # the emulator needs no key; a real one must never be used here
    env.update(
        JUPYTER_PATH=str(data),  # searched before the venv's share/jupyter
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(runtime),
        IPYTHONDIR=str(ipython),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = base / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    kernel_pids: set[int] = set()
    with contextlib.ExitStack() as stack:  # cleans up in reverse order, also on failure
        stack.callback(_kill_leftover_kernels, kernel_pids)  # last: after the server stopped
        log = stack.enter_context(log_path.open("wb"))
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack.callback(_stop_server, server)
        _wait_for_server(server, base_url, log_path)

        playwright = pw.sync_playwright().start()
        stack.callback(playwright.stop)
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        stack.callback(browser.close)
        the_lab = Lab(base_url, root, shots, browser, kernel_pids)
        print(f"\nJupyterLab {base_url} (log {log_path}); screenshots in {shots}")
        yield the_lab


def _wait_for_server(server: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # polling a port: there is nothing to wait on
    pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT} s:\n{_tail(log_path)}")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server then shuts its kernels down), SIGKILL if it hangs."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


def _kill_leftover_kernels(pids: set[int]) -> None:
    """Kernels run in their own sessions; kill any (by the pid it printed) still alive."""
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ipykernel" in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def page(lab: Lab) -> Iterator[Any]:
    context = lab.browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(LONG)
    try:
        yield page
    finally:
        with contextlib.suppress(Exception):
            page.evaluate(JS_SHUTDOWN_KERNELS)
        context.close()


# --------------------------------------------------------------------------- helpers
def open_notebook(lab: Lab, page: Any, name: str, cells: list[str]) -> None:
    """Write the notebook, open it in its own workspace, wait for an idle kernel."""
    write_notebook(lab.root / name, cells)
    workspace = Path(name).stem
    page.goto(f"{lab.base_url}/lab/workspaces/{workspace}/tree/{name}")
    page.wait_for_function(JS_KERNEL_IDLE, arg=name, timeout=LONG)
    expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")).to_have_count(len(cells))


def run_all(page: Any, name: str) -> None:
    page.evaluate(JS_RUN_ALL, name)


def cells(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")


def shot(lab: Lab, page: Any, name: str, cell: Any | None = None) -> Path:
    if cell is not None:
        cell.scroll_into_view_if_needed()
    path = lab.shots / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def wait_done(cell: Any) -> None:
    """The cell has finished: its prompt shows an execution count, not ``[*]``."""
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=LONG)


def check_kernel(lab: Lab, cell: Any) -> None:
    """The kernel runs this test's (the venv's) python and imports this checkout's package."""
    wait_done(cell)
    text = cell.locator(".jp-OutputArea-output").inner_text()
    found = dict(re.findall(r"^(\w+)=(.*)$", text, flags=re.MULTILINE))
    lab.kernel_pids.add(int(found["pid"]))
    assert found["python"] == sys.executable, text
    assert found["prefix"] == sys.prefix, text  # the venv this test runs in
    assert Path(found["qwen_magic"]).resolve().is_relative_to(REPO), text


KERNEL_CELL = (
    "import os, sys, qwen_magic\n"
    "print(f'python={sys.executable}')\n"
    "print(f'prefix={sys.prefix}')\n"
    "print(f'qwen_magic={qwen_magic.__file__}')\n"
    "print(f'pid={os.getpid()}')"
)


def setup_cells(reply: str) -> list[str]:
    return [
        KERNEL_CELL,
        "%load_ext qwen_magic",
        "%qwencmd emulator start",
        "%config QwenMagics.update_interval = 0.05\n"
        "from qwen_magic.ipython import magics_of\n"
        "from qwen_magic.testing import Reply\n"
        f"magics_of(get_ipython()).emulator.queue({reply})",
    ]


def assert_no_errors(page: Any) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    assert errors.count() == 0, errors.all_inner_texts()


# --------------------------------------------------------------------------- tests
def test_live_view_then_static_markdown(lab: Lab, page: Any) -> None:
    reply = (
        f"Reply(text={ANSWER!r}, reasoning={REASONING!r}, "
        "reasoning_chunks=60, chunks=80, delay=0.05)"
    )
    name = "live.ipynb"
    open_notebook(
        lab,
        page,
        name,
        [*setup_cells(reply), "%%qwen --think\nWrite a Python function that greets someone."],
    )
    shot(lab, page, "01-opened")
    run_all(page, name)
    cell = cells(page).nth(4)

    # While it thinks: the widget view, with the "Thinking…" section open and a Stop button.
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets")
    header = cell.locator(".jupyter-widget-Collapse-header", has_text="Thinking…")
    header.wait_for(state="visible", timeout=LONG)
    stop = cell.locator("button.jupyter-button", has_text="Stop")
    expect(stop).to_be_visible()
    expect(cell.locator(".jupyter-widget-Collapse-open")).to_have_count(1)
    expect(widgets.first).to_contain_text("The user wants")  # the reasoning streams in
    shot(lab, page, "02-live-thinking", cell)

    # While it answers: the section has folded away under "Thought for …", the answer streams.
    folded = cell.locator(".jupyter-widget-Collapse-header", has_text="Thought for")
    folded.wait_for(state="visible", timeout=LONG)
    expect(cell.locator(".jupyter-widget-Collapse-open")).to_have_count(0)
    expect(widgets.first.locator(".jp-RenderedMarkdown").last).to_contain_text("Here is")
    shot(lab, page, "03-live-answer", cell)

    # Done: the widget view is replaced by one static Markdown output.
    wait_done(cell)
    expect(widgets).to_have_count(0)
    outputs = cell.locator(".jp-OutputArea-output")
    expect(outputs).to_have_count(1)
    markdown = cell.locator(".jp-OutputArea-output.jp-RenderedMarkdown")  # the same node
    expect(markdown).to_have_attribute("data-mime-type", "text/markdown")
    details = markdown.locator("details")
    summary = details.locator("summary")
    expect(details).to_have_count(1)
    expect(summary).to_have_text(re.compile(r"^\s*Thought for \d+\.\d s · \d+ tokens\s*$"))
    expect(details).not_to_have_attribute("open", re.compile(".*"))
    expect(details.get_by_text("The user wants")).to_be_hidden()
    expect(markdown.locator("strong", has_text="small function")).to_be_visible()
    expect(markdown.locator("pre code")).to_contain_text("def greet(name: str) -> str:")
    expect(markdown.locator("p code", has_text='greet("Ada")')).to_be_visible()
    expect(markdown.locator("ol > li")).to_have_count(3)
    usage = markdown.locator("sub")
    expect(usage).to_have_text(
        re.compile(r"qwen3\.5-plus · chat · .* · \d+ in · \d+ out \(\d+ reasoning\) · .*")
    )
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))
    shot(lab, page, "04-final-closed", cell)

    # The reasoning opens on a click.
    summary.click()
    expect(details).to_have_attribute("open", "")
    expect(details.get_by_text("The user wants")).to_be_visible()
    shot(lab, page, "05-final-open", cell)


def test_stop_button_mid_stream(lab: Lab, page: Any) -> None:
    """Stop, clicked while the answer streams, ends it there and keeps the partial answer."""
    reply = f"Reply(text={STOP_ANSWER!r}, chunks=400, delay=0.05)"  # ~20 s if never stopped
    name = "stop.ipynb"
    open_notebook(
        lab,
        page,
        name,
        [
            *setup_cells(reply),
            "%%qwen\nWrite a very long answer.",
            "print(f'interrupted={_qwen.interrupted}')",
        ],
    )
    run_all(page, name)
    cell = cells(page).nth(4)
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets")
    expect(widgets.first).to_contain_text("Line 3 of", timeout=LONG)
    check_kernel(lab, cells(page).nth(0))
    shot(lab, page, "06-stop-before", cell)
    clicked_at = time.monotonic()
    cell.locator("button.jupyter-button", has_text="Stop").click()

    wait_done(cell)
    took = time.monotonic() - clicked_at
    expect(widgets).to_have_count(0)
    markdown = cell.locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    shot(lab, page, "07-stop-after", cell)
    expect(markdown).to_contain_text("Stopped — the answer above is partial.")
    expect(markdown).to_contain_text("Line 3 of a long answer.")
    expect(markdown).not_to_contain_text("Line 200 of a long answer.")
    # No token counts: the service sends usage only at the end of a stream it finished.
    expect(markdown.locator("sub")).to_have_text(
        re.compile(r"qwen3\.5-plus · chat · .*first token")
    )
    after = cells(page).nth(5)  # the kernel goes on, and the Result says it was stopped
    wait_done(after)
    expect(after.locator(".jp-OutputArea-output")).to_have_text("interrupted=True")
    assert_no_errors(page)
    print(f"\nStop: the cell ended {took:.1f} s after the click")


# The thumbnails as the browser decoded them: size, loaded, and the colour at their centre.
JS_IMAGES = """
(imgs) => imgs.map((img) => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth || 1;
  canvas.height = img.naturalHeight || 1;
  const ctx = canvas.getContext('2d');
  let rgb = null;
  if (img.complete && img.naturalWidth > 0) {
    ctx.drawImage(img, 0, 0);
    rgb = Array.from(ctx.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data)
      .slice(0, 3);
  }
  const box = img.getBoundingClientRect();
  return {src: img.getAttribute('src') || '', complete: img.complete, w: img.naturalWidth,
          h: img.naturalHeight, rgb: rgb, top: box.top, bottom: box.bottom};
})
"""
JS_LAYOUT = """
([root, text]) => {
  const found = [...root.querySelectorAll('.jp-RenderedMarkdown')]
    .filter((e) => e.textContent.includes(text))
    .map((e) => e.getBoundingClientRect())
    .filter((box) => box.height > 0);
  if (!found.length) return null;
  const thumbs = [...root.querySelectorAll('img')].map((i) => i.getBoundingClientRect().bottom);
  return {answerTop: found[found.length - 1].top, thumbBottoms: thumbs};
}
"""
LOADED = "(imgs) => imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0)"


def _is_red(rgb: list[int]) -> bool:
    return rgb[0] > 200 and rgb[1] < 60 and rgb[2] < 60


def _is_blue(rgb: list[int]) -> bool:
    return rgb[2] > 200 and rgb[0] < 60 and rgb[1] < 60


def test_image_thumbnails_live_and_static(lab: Lab, page: Any) -> None:
    """``-i red.png -i {blue}``: two thumbnails above the streaming answer, then two small JPEG
    data-URI ``<img>`` in the static Markdown, before the answer and the usage line."""
    from PIL import Image

    Image.new("RGB", (320, 200), (255, 0, 0)).save(lab.root / "red.png")  # downscaled to 128
    text = "The **first** image is red and the second one is blue.\n\nBoth are plain squares."
    reply = f"Reply(text={text!r}, reasoning='', chunks=60, delay=0.08)"  # ~5 s of streaming
    name = "images.ipynb"
    open_notebook(
        lab,
        page,
        name,
        [
            *setup_cells(reply),
            "from PIL import Image\nblue = Image.new('RGB', (64, 96), (0, 0, 255))",
            "%%qwen -i red.png -i {blue}\nWhat colours are these two images?",
        ],
    )
    run_all(page, name)
    cell = cells(page).nth(5)

    # While it streams: the widget view shows both thumbnails, above the growing answer.
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets")
    thumbs = widgets.first.locator("img")
    expect(thumbs).to_have_count(2, timeout=LONG)
    expect(thumbs.nth(0)).to_be_visible()
    expect(thumbs.nth(1)).to_be_visible()
    page.wait_for_function(LOADED, arg=thumbs.element_handles())
    expect(widgets.first).to_contain_text("red.png")  # each thumbnail's caption
    expect(widgets.first).to_contain_text("{blue}")
    answer = widgets.first.locator(".jp-RenderedMarkdown").last
    expect(answer).to_contain_text("The first")
    expect(cell.locator("button.jupyter-button", has_text="Stop")).to_be_visible()
    live = thumbs.evaluate_all(JS_IMAGES)
    # The answer's node is replaced at each refresh: measure when one is laid out.
    layout = page.wait_for_function(
        JS_LAYOUT, arg=[widgets.first.element_handle(), "The first"], timeout=10_000
    ).json_value()
    shot(lab, page, "08-images-live", cell)
    assert len(live) == 2 and all(i["w"] > 0 for i in live), live
    assert len(layout["thumbBottoms"]) == 2, layout
    assert all(bottom <= layout["answerTop"] for bottom in layout["thumbBottoms"]), layout
    assert _is_red(live[0]["rgb"]) and _is_blue(live[1]["rgb"]), live

    # Done: one static Markdown output, thumbnails first, then the answer and the usage line.
    wait_done(cell)
    expect(widgets).to_have_count(0)
    expect(cell.locator(".jp-OutputArea-output")).to_have_count(1)
    markdown = cell.locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    expect(markdown).to_have_attribute("data-mime-type", "text/markdown")
    images = markdown.locator("img")
    expect(images).to_have_count(2)
    page.wait_for_function(LOADED, arg=images.element_handles())
    strong = markdown.locator("strong", has_text="first")
    expect(markdown.locator("sub").first).to_have_text("1: red.png · 2: {blue}")
    usage = markdown.locator("sub").last
    expect(strong).to_be_visible()
    expect(markdown).to_contain_text("Both are plain squares.")
    expect(usage).to_have_text(re.compile(r"qwen3\.5-plus · chat · .* · \d+ in · \d+ out · .*"))
    shot(lab, page, "09-images-static", cell)  # (scrolls: measure after it)
    static = images.evaluate_all(JS_IMAGES)
    for image in static:
        assert image["src"].startswith("data:image/jpeg;base64,"), image["src"][:60]
        assert image["complete"] and 0 < image["w"] <= 128 and 0 < image["h"] <= 128, image
    assert (static[0]["w"], static[0]["h"]) == (128, 80), static[0]  # 320×200 fitted to 128
    assert (static[1]["w"], static[1]["h"]) == (64, 96), static[1]  # already small: kept
    assert _is_red(static[0]["rgb"]) and _is_blue(static[1]["rgb"]), static
    text_top = strong.bounding_box()["y"]
    assert all(i["bottom"] <= text_top for i in static), (static, text_top)
    assert text_top < usage.bounding_box()["y"]
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))
