"""The README's pictures, as scenes played in a real JupyterLab (the browser tests' own lab).

Each scene writes a notebook whose answers come from the emulator, scripted with realistic
English text, runs it, waits until the screen shows what the picture claims (asserting it is
there) and saves an element screenshot of the ``%%qwen`` cell (its input and output) as PNG.
``tests/browser/test_screenshots.py`` plays them into a temporary directory;
``scripts/screenshots.py`` plays them and writes the optimized PNGs to ``docs/images/``.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_jupyterlab import (
    JS_SHUTDOWN_KERNELS,
    LONG,
    REPO,
    Lab,
    assert_no_errors,
    cells,
    check_kernel,
    expect,
    open_notebook,
    run_all,
    setup_cells,
    wait_done,
)

VIEWPORT = {"width": 980, "height": 1100}  # a cell about 900 px wide: readable in a README

SKY_PROMPT = "%%qwen --think\nWhy is the sky blue?"
SKY_REASONING = (
    "The user asks why the sky is blue. The key idea is Rayleigh scattering: air molecules are "
    "much smaller than the wavelength of visible light, so they scatter short wavelengths far "
    "more strongly, roughly as 1/λ⁴. Blue light at about 450 nm is scattered almost six times "
    "more than red at 700 nm. I should also say why the sky is not violet, and why sunsets are "
    "red. A short answer with a small table and two bullet points will do."
)
SKY_ANSWER = """The sky is blue because of **Rayleigh scattering**.

Sunlight holds every colour. On its way through the air, nitrogen and oxygen molecules scatter \
it in all directions, and they scatter short wavelengths much more than long ones: the \
strength goes as 1/λ⁴.

| colour | wavelength | scattered, relative to red |
|---|---|---|
| red | 700 nm | 1× |
| green | 530 nm | 3× |
| blue | 450 nm | 5.9× |

So wherever you look away from the Sun, you see mostly scattered blue light.

- **Why not violet?** The Sun sends less violet, part of it is absorbed high up, and our eyes \
are less sensitive to it.
- **Why are sunsets red?** Near the horizon sunlight crosses far more air: most of the blue is \
scattered out of the beam before it reaches you, leaving orange and red.
"""

TEA_PROMPT = "%%qwen -t 0.1,0.9\nSuggest a title for a blog post about green tea, and say why."
TEA_ANSWERS = {
    0.1: "**Green Tea: A Beginner's Guide to Brewing and Benefits**\n\n"
    "It is clear and searchable: readers know at once what they will learn, and the words "
    "*beginner*, *brewing* and *benefits* are what people type when they look for it.",
    0.9: "**Steeped in Calm: What a Cup of Sencha Taught Me About Slowing Down**\n\n"
    "It promises a story rather than a list. The image of a single cup invites the reader in, "
    "and *slowing down* hints that the post is about more than tea.",
}

WEATHER_TOOL = '''def get_weather(city: str) -> dict:
    """The current weather in a city.

    Args:
        city: The city's name, e.g. Paris.
    """
    return {"city": city, "temp_c": 18, "sky": "sunny", "wind_kmh": 12}'''
WEATHER_PROMPT = "%%qwen --tools get_weather\nWhat's the weather in Paris? Do I need a coat?"
WEATHER_ANSWER = (
    "It is **18 °C and sunny** in Paris, with a light wind of 12 km/h.\n\n"
    "No coat needed: a light jacket or a jumper is enough, perhaps a scarf for the evening when "
    "it cools down."
)

Shot = Callable[[str, Any], Path]


def _shooter(out_dir: Path) -> Shot:
    def shoot(name: str, element: Any) -> Path:
        element.scroll_into_view_if_needed()
        path = out_dir / f"{name}.png"
        element.screenshot(path=str(path), animations="disabled")
        return path

    return shoot


JS_WIDE = """
() => {
  const shell = window.jupyterapp.shell;  // the notebook takes the whole width
  if (!shell.leftCollapsed) shell.collapseLeft();
  if (!shell.rightCollapsed) shell.collapseRight();
  return true;
}
"""


def _open(lab: Lab, page: Any, name: str, notebook: list[str]) -> None:
    open_notebook(lab, page, name, notebook)
    page.evaluate(JS_WIDE)
    run_all(page, name)


def _queue(*replies: str) -> list[str]:
    """The usual set-up cells, with the answers queued and the live view refreshed often."""
    return setup_cells(", ".join(replies))


def live_and_final(lab: Lab, page: Any, out_dir: Path) -> list[Path]:
    """Reasoning streaming, then the answer streaming with the reasoning folded, then the
    static Markdown that replaces the live view."""
    shoot = _shooter(out_dir)
    reply = (
        f"Reply(text={SKY_ANSWER!r}, reasoning={SKY_REASONING!r}, "
        "reasoning_chunks=70, chunks=110, delay=0.06)"
    )
    name = "shots-sky.ipynb"
    _open(lab, page, name, [*_queue(reply), SKY_PROMPT])
    cell = cells(page).nth(4)
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets")

    expect(cell.locator(".jupyter-widget-Collapse-header", has_text="Thinking…")).to_be_visible(
        timeout=LONG
    )
    expect(widgets.first).to_contain_text("almost six times", timeout=LONG)
    expect(cell.locator("button.jupyter-button", has_text="Stop")).to_be_visible()
    shots = [shoot("live-thinking", cell)]

    expect(cell.locator(".jupyter-widget-Collapse-header", has_text="Thought for")).to_be_visible(
        timeout=LONG
    )
    expect(cell.locator(".jupyter-widget-Collapse-open")).to_have_count(0)
    answer = widgets.first.locator(".jp-RenderedMarkdown").last
    expect(answer.locator("table tr")).to_have_count(4, timeout=LONG)  # the table, whole
    expect(answer).to_contain_text("5.9×", timeout=LONG)
    shots.append(shoot("live-answer", cell))

    wait_done(cell)
    expect(widgets).to_have_count(0)
    markdown = cell.locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    expect(markdown.locator("summary")).to_have_text(re.compile(r"Thought for \d+\.\d s"))
    expect(markdown.locator("table tr")).to_have_count(4)
    expect(markdown.locator("sub").last).to_contain_text("qwen3.5-plus")
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))
    shots.append(shoot("final-static", cell))
    return shots


def compare_grid(lab: Lab, page: Any, out_dir: Path) -> list[Path]:
    """``-t 0.1,0.9``: two answers side by side, streaming. The answers come from a recording
    (replayed slowly), matched by temperature, so each panel gets its own answer."""
    items = [
        {
            "prompt": TEA_PROMPT.split("\n", 1)[1],
            "options": {"temperature": t, "thinking": False},
            "answer": text,
            "pacing": {"ttft": 0.3, "tokens_per_second": 9},
        }
        for t, text in TEA_ANSWERS.items()
    ]
    source = lab.root / "tea.json"
    source.write_text(json.dumps(items))
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_recording.py"), str(source)]
        + ["-o", str(lab.root / "tea.jsonl")],
        check=True,
        capture_output=True,
    )
    shoot = _shooter(out_dir)
    name = "shots-compare.ipynb"
    setup = [
        *setup_cells("")[:2],
        "%qwencmd emulator start --replay tea.jsonl\n%config QwenMagics.update_interval = 0.05",
    ]
    _open(lab, page, name, [*setup, TEA_PROMPT.replace("-t", "--no-think -t")])
    cell = cells(page).nth(3)
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
    expect(widgets).to_contain_text("0.1", timeout=LONG)
    expect(widgets).to_contain_text("Beginner's Guide", timeout=LONG)
    expect(widgets).to_contain_text("Steeped in Calm", timeout=LONG)
    expect(widgets).to_contain_text("invites the reader", timeout=LONG)
    expect(widgets).not_to_contain_text("no recording")
    shots = [shoot("compare-grid", cell)]
    wait_done(cell)
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))
    return shots


def tool_call(lab: Lab, page: Any, out_dir: Path) -> list[Path]:
    """``--tools get_weather``: the model asks for a call, the row shows it with its result,
    and the answer streams below."""
    shoot = _shooter(out_dir)
    call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    replies = (
        f"Reply(tool_calls=[{call!r}], reasoning='')",
        f"Reply(text={WEATHER_ANSWER!r}, reasoning='', chunks=60, delay=0.08)",
    )
    name = "shots-tools.ipynb"
    _open(lab, page, name, [*_queue(*replies), WEATHER_TOOL, WEATHER_PROMPT])
    cell = cells(page).nth(5)
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
    header = cell.locator(".jupyter-widget-Collapse-header", has_text="1 tool call")
    header.click(timeout=LONG)  # unfold the calls: a row per call, with its result
    row = widgets.get_by_text(re.compile(r'get_weather\(city="Paris"\) → .*"temp_c": 18'))
    expect(row).to_be_visible(timeout=LONG)
    expect(widgets).to_contain_text("a light jacket", timeout=LONG)
    shots = [shoot("tool-call", cell)]
    wait_done(cell)
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))
    return shots


SCENES = (live_and_final, compare_grid, tool_call)
PICTURES = ("live-thinking", "live-answer", "final-static", "compare-grid", "tool-call")


def new_page(lab: Lab) -> Any:
    """A page in its own light-themed context of the pictures' size."""
    context = lab.browser.new_context(viewport=VIEWPORT, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(LONG)
    return page


def play(
    lab: Lab, out_dir: Path, scenes: tuple[Callable[..., list[Path]], ...] = SCENES
) -> list[Path]:
    """Every scene, each in a fresh page; the PNGs written."""
    shots: list[Path] = []
    for scene in scenes:
        page = new_page(lab)
        try:
            shots += scene(lab, page, out_dir)
        finally:
            with contextlib.suppress(Exception):
                page.evaluate(JS_SHUTDOWN_KERNELS)
            page.context.close()
    return shots
