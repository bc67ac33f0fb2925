"""The live view of a long answer in a real JupyterLab (Chromium via pip playwright).

While a long answer streams, it scrolls in a box of bounded height that keeps to its end, with
Stop above it and the footer below it in view; a user who scrolls up is left where they are.
Frozen pieces read as one document (the same spacing as one Markdown output); a table header
waits for its rule row; the "Thought for …" title is readable; thumbnails of different heights
keep their captions on one line; and when the static output replaces the live view, the cell
does not jump. Measured as DOM facts (boxes, styles), never as timings.

Run with ``.venv/bin/pytest -m browser tests/browser/test_live_view_jupyterlab.py -v -s``.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_jupyterlab import (  # noqa: F401 - the fixtures are used by name
    LONG,
    Lab,
    assert_no_errors,
    cells,
    check_kernel,
    expect,
    lab,
    open_notebook,
    page,
    run_all,
    setup_cells,
    shot,
    wait_done,
)

pytestmark = pytest.mark.browser

LONG_ANSWER = "\n\n".join(
    f"Paragraph {i}. " + " ".join(f"Sentence {j} of paragraph {i} goes on." for j in range(6))
    for i in range(60)
)

SHORT_ANSWER = "\n\n".join(LONG_ANSWER.split("\n\n")[:4])

# Boxes of what a user sees in one cell's output, as the page lays it out.
JS_FACTS = """
(cell) => {
  const box = (e) => { if (!e) return null; const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height}; };
  const scrolls = [...cell.querySelectorAll('.qwen-live-scroll')].filter((s) => s.clientHeight);
  const scroll = scrolls[scrolls.length - 1];
  const stop = [...cell.querySelectorAll('button')].find((b) => b.textContent.includes('Stop'));
  const footer = [...cell.querySelectorAll('.widget-html small')].find(
    (s) => s.textContent.includes('qwen3.5-plus'));
  const paras = [...cell.querySelectorAll('.jp-RenderedMarkdown p')]
    .filter((p) => /^(Paragraph|Sentence)/.test(p.textContent) && p.getClientRects().length);
  return {
    scroll: scroll && {...box(scroll), scrollTop: scroll.scrollTop,
      scrollHeight: scroll.scrollHeight, clientHeight: scroll.clientHeight,
      maxHeight: parseFloat(getComputedStyle(scroll).maxHeight)},
    stop: box(stop), footer: box(footer), output: box(cell.querySelector('.jp-OutputArea-output')),
    notebook: box(cell.closest('.jp-WindowedPanel-outer') || cell.closest('.jp-Notebook')),
    paras: paras.map((p) => ({...box(p), text: p.textContent.slice(0, 40)})),
  };
}
"""
# The "Thought for" title's colour and the background it is drawn on (alpha blended), and the
# WCAG contrast ratio between them.
JS_TITLE_CONTRAST = """
(cell) => {
  const title = cell.querySelector('.jupyter-widget-Collapse-header');
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let bg = [255, 255, 255];
  const layers = [];
  for (let e = title; e; e = e.parentElement) {
    layers.push(rgba(getComputedStyle(e).backgroundColor));
  }
  layers.push(rgba(getComputedStyle(document.body).backgroundColor));
  for (const c of layers.reverse()) {
    const a = c.length > 3 ? c[3] : 1;
    if (c.length >= 3 && a > 0) bg = [0, 1, 2].map((i) => c[i] * a + bg[i] * (1 - a));
  }
  const fg0 = rgba(getComputedStyle(title).color);
  const fa = fg0.length > 3 ? fg0[3] : 1;
  const fg = [0, 1, 2].map((i) => fg0[i] * fa + bg[i] * (1 - fa));
  const lum = (c) => { const v = c.map((x) => { x /= 255;
    return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const [l1, l2] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return {text: title.textContent.trim(), ratio: (l1 + 0.05) / (l2 + 0.05), fg: fg, bg: bg,
          light: document.body.dataset.jpThemeLight};
}
"""
JS_DARK = """
async () => { await window.jupyterapp.commands.execute('apputils:change-theme',
  {theme: 'JupyterLab Dark'}); return true; }
"""


def facts(cell: Any) -> dict[str, Any]:
    return cell.evaluate(JS_FACTS)


def test_a_long_answer_scrolls_in_a_box_that_keeps_to_its_end(lab: Lab, page: Any) -> None:  # noqa: F811
    reply = f"Reply(text={LONG_ANSWER!r}, reasoning='', chunks=1500, delay=0.01)"  # ~15 s
    name = "long.ipynb"
    open_notebook(lab, page, name, [*setup_cells(reply), "%%qwen\nA long answer, please."])
    run_all(page, name)
    cell = cells(page).nth(4)
    page.wait_for_function(
        "(c) => [...c.querySelectorAll('.qwen-live-scroll')].some("
        "(s) => s.clientHeight && s.scrollHeight > s.clientHeight + 300)",
        arg=cell.element_handle(),
        timeout=LONG,
    )
    cell.scroll_into_view_if_needed()
    seen = facts(cell)
    shot(lab, page, "20-long-live-end", cell)
    scroll, viewport = seen["scroll"], page.viewport_size["height"]
    assert scroll["maxHeight"] <= 0.6 * viewport + 1, seen  # 60vh
    assert scroll["clientHeight"] <= scroll["maxHeight"] < scroll["scrollHeight"], seen
    assert abs(scroll["scrollTop"]) <= 1, seen  # at the end
    last = seen["paras"][-1]
    assert scroll["top"] <= last["top"] < scroll["bottom"], seen  # the newest text in view
    # Stop and the footer: outside the scroll box, on screen.
    area = seen["notebook"]
    for part in ("stop", "footer"):
        assert seen[part] is not None and seen[part]["top"] >= scroll["bottom"] - 1, seen
        assert area["top"] <= seen[part]["top"] and seen[part]["bottom"] <= area["bottom"], seen
    # Pieces read as one document: the same gap between every two paragraphs.
    gaps = [b["top"] - a["bottom"] for a, b in zip(seen["paras"], seen["paras"][1:], strict=False)]
    assert gaps and max(gaps) - min(gaps) <= 1, gaps

    # The user scrolls up: what they read stays where it is while the answer grows. (The box
    # can scroll further than the wheel moves it first, or the rest would scroll the notebook.)
    page.wait_for_function(
        "(c) => [...c.querySelectorAll('.qwen-live-scroll')].some("
        "(s) => s.clientHeight && s.scrollHeight > s.clientHeight + 700)",
        arg=cell.element_handle(),
        timeout=LONG,
    )
    page.mouse.move(400, scroll["top"] + 100)
    page.mouse.wheel(0, -500)
    page.wait_for_function(
        "(c) => { const s = [...c.querySelectorAll('.qwen-live-scroll')].filter("
        "(x) => x.clientHeight).pop(); return s && s.scrollTop < -300; }",
        arg=cell.element_handle(),
    )
    before = facts(cell)
    reading = next(p for p in before["paras"] if p["top"] >= before["scroll"]["top"])
    page.wait_for_function(
        "([c, h]) => { const s = [...c.querySelectorAll('.qwen-live-scroll')].filter("
        "(x) => x.clientHeight).pop(); return s && s.scrollHeight > h + 400; }",
        arg=[cell.element_handle(), before["scroll"]["scrollHeight"]],
        timeout=LONG,
    )
    after = facts(cell)
    shot(lab, page, "21-long-live-scrolled-up", cell)
    same = [p for p in after["paras"] if p["text"] == reading["text"]]
    assert same and abs(same[0]["top"] - reading["top"]) <= 2, (reading, same)

    # Done: the static output is full length, no scroll box left.
    wait_done(cell)
    expect(cell.locator(".qwen-live-scroll")).to_have_count(0)
    final = facts(cell)
    assert final["output"]["height"] > 3 * scroll["maxHeight"], final["output"]
    expect(cell.locator(".jp-RenderedMarkdown p", has_text="Paragraph 59.")).to_have_count(1)
    assert_no_errors(page)
    check_kernel(lab, cells(page).nth(0))


def test_the_static_output_takes_the_live_views_place_and_the_title_reads(
    lab: Lab,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    reply = (
        f"Reply(text={SHORT_ANSWER!r}, reasoning='Let me think. ' * 20, "
        "reasoning_chunks=40, chunks=300, delay=0.02)"
    )
    name = "swap.ipynb"
    setup = setup_cells(reply)
    setup[-1] += f"\nmagics_of(get_ipython()).emulator.queue({reply})"
    open_notebook(
        lab, page, name, [*setup, "%%qwen --think\nA short answer.", "%%qwen --think\nAgain."]
    )
    run_all(page, name)
    cell = cells(page).nth(4)
    title = cell.locator(".jupyter-widget-Collapse-header", has_text="Thought for")
    title.wait_for(state="visible", timeout=LONG)
    light = cell.evaluate(JS_TITLE_CONTRAST)
    # While the answer streams (two paragraphs in view), then once the static output is there.
    page.wait_for_function(
        "(c) => [...c.querySelectorAll('.jp-RenderedMarkdown p')].filter("
        "(p) => p.textContent.startsWith('Paragraph')).length >= 2",
        arg=cell.element_handle(),
        timeout=LONG,
    )
    live = facts(cell)
    shot(lab, page, "22-swap-live", cell)
    wait_done(cell)
    static = facts(cell)
    shot(lab, page, "23-swap-static", cell)
    top = lambda f: f["paras"][0]["top"] - f["output"]["top"]  # noqa: E731
    below = lambda f: f["output"]["bottom"] - f["paras"][-1]["bottom"]  # noqa: E731
    assert abs(top(live) - top(static)) <= 4, (live, static)  # the answer does not move
    assert abs(below(live) - below(static)) <= 6, (live, static)  # nor what follows it

    def gaps(f: dict[str, Any]) -> list[float]:
        return [b["top"] - a["bottom"] for a, b in zip(f["paras"], f["paras"][1:], strict=False)]

    assert abs(min(gaps(live)) - min(gaps(static))) <= 1, (gaps(live), gaps(static))

    # The title is readable (WCAG AA, 4.5:1) in the light theme and in the dark one.
    assert light["light"] == "true" and light["ratio"] >= 4.5, light
    page.evaluate(JS_DARK)
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    again = cells(page).nth(5)
    again.locator(".jupyter-widget-Collapse-header", has_text="Thought for").wait_for(
        state="visible", timeout=LONG
    )
    dark = again.evaluate(JS_TITLE_CONTRAST)
    shot(lab, page, "24-title-dark", again)
    assert dark["ratio"] >= 4.5, dark
    wait_done(again)
    assert_no_errors(page)


def test_thumbnail_captions_line_up_under_pictures_of_different_heights(
    lab: Lab,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    from PIL import Image

    Image.new("RGB", (320, 100), (255, 0, 0)).save(lab.root / "wide.png")  # 128 x 40
    reply = "Reply(text='Two pictures. ' * 30, reasoning='', chunks=60, delay=0.1)"
    name = "captions.ipynb"
    open_notebook(
        lab,
        page,
        name,
        [
            *setup_cells(reply),
            "from PIL import Image\ntall = Image.new('RGB', (60, 120), (0, 0, 255))",
            "%%qwen -i wide.png -i {tall}\nDescribe them.",
        ],
    )
    run_all(page, name)
    cell = cells(page).nth(5)
    widgets = cell.locator(".jp-OutputArea-output .jupyter-widgets")
    expect(widgets.first.locator("img")).to_have_count(2, timeout=LONG)
    captions = [widgets.first.get_by_text("wide.png"), widgets.first.get_by_text("{tall}")]
    for caption in captions:
        expect(caption).to_be_visible()
    shot(lab, page, "25-captions", cell)
    pictures = [img.bounding_box() for img in widgets.first.locator("img").all()]
    assert abs(pictures[0]["height"] - pictures[1]["height"]) > 30, pictures  # they differ
    bottoms = [c.bounding_box()["y"] + c.bounding_box()["height"] for c in captions]
    assert abs(bottoms[0] - bottoms[1]) <= 1, bottoms
    wait_done(cell)
    assert_no_errors(page)
