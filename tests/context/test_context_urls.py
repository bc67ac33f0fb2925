"""``--url URL``: a page's readable text from a web server on 127.0.0.1 (the test's own):
title and main text kept, navigation and footer dropped; no key sent; limits and refusals
before any request to the model."""

from __future__ import annotations

import pytest
from context_helpers import generations, pdf_bytes, sent_text
from IPython.core.error import UsageError

from qwen_magic.context import web

ARTICLE = """<!doctype html><html><head><title>Rainfall in Oslo</title></head><body>
<nav><a href="/">Home</a> | <a href="/shop">Shop</a> | Subscribe to our newsletter!</nav>
<article><h1>Rainfall in Oslo</h1>
<p>Oslo gets about 763 mm of rain a year, most of it in autumn. The wettest month is usually
August or October, depending on the decade measured.</p>
<p>Snow covers the ground for roughly four months each winter, which keeps the city's ski
trails busy from December to March.</p></article>
<footer>Copyright Example Weather. All rights reserved. Cookie settings.</footer>
</body></html>"""


def test_a_page_s_title_and_main_text_are_sent_without_its_boilerplate(
    ip, final, emulator, site, test_key
):
    url = site.add("/oslo", ARTICLE)
    ip.run_cell_magic("qwen", f"--url {url}", "How rainy is Oslo?")
    sent = sent_text(emulator)
    assert sent.startswith(f"How rainy is Oslo?\n\nWeb page: Rainfall in Oslo — {url}\n```markdown")
    assert "Oslo gets about 763 mm of rain a year" in sent and "ski\ntrails" not in sent
    assert "keeps the city's ski trails busy" in sent
    for boilerplate in ("Subscribe", "Shop", "Cookie settings", "All rights reserved"):
        assert boilerplate not in sent
    (chip,) = ip.user_ns["_qwen"].attachments
    assert (chip.name, chip.kind) == (url, "page") and 30 < chip.tokens < 200
    # the page's server saw one plain GET: no key, no authorization, nothing of ours
    ((path, headers),) = site.seen
    assert path == "/oslo"
    assert not {"authorization", "cookie", "x-api-key"} & {h.lower() for h in headers}
    assert test_key not in repr(headers)


def test_text_json_and_pdf_urls_are_read_as_they_are(ip, final, emulator, site):
    text = site.add("/notes.txt", "Plain notes.", "text/plain; charset=utf-8")
    data = site.add("/data", '{"rain_mm": 763}', "application/json")
    pdf = site.add("/report", pdf_bytes(["Revenue grew."]), "application/pdf")
    ip.run_cell_magic("qwen", f"--url {text} --url {data} --url {pdf}", "Read")
    sent = sent_text(emulator)
    assert f"Web page: {text}\n```\nPlain notes.\n```" in sent
    assert f'Web page: {data}\n```json\n{{"rain_mm": 763}}\n```' in sent
    assert f"Web page: {pdf}\n```\n--- page 1 ---\nRevenue grew.\n```" in sent
    assert [c.kind for c in ip.user_ns["_qwen"].attachments] == ["text", "json", "pdf"]


def test_redirects_are_followed_and_the_final_address_named(ip, final, emulator, site):
    url = site.add("/old", "", status=301, headers={"Location": "/oslo"})
    site.add("/oslo", ARTICLE)
    ip.run_cell_magic("qwen", f"--url {url}", "Summarize")
    assert f"Web page: Rainfall in Oslo — {site.base}/oslo\n" in sent_text(emulator)


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda s: s.add("/gone", "no", status=404), "answered HTTP 404"),
        (lambda s: s.add("/zip", b"PK\x03\x04", "application/zip"), "not a web page or text"),
        (
            lambda s: s.add("/loop", "", status=302, headers={"Location": "/loop"}),
            "redirects more than 5 times",
        ),
        (
            lambda s: s.add("/ftp", "", status=302, headers={"Location": "ftp://127.0.0.1/x"}),
            "not http",
        ),
        (lambda s: "file:///etc/passwd", "is not an http\\(s\\) URL"),
        (lambda s: s.base.replace("//", "//user:secret@") + "/x", "user name or password"),
    ],
)
def test_bad_urls_are_refused_before_any_request(ip, final, emulator, site, setup, says):
    url = setup(site)
    with pytest.raises(UsageError, match=says) as raised:
        ip.run_cell_magic("qwen", f"--url {url}", "Read it")
    assert "secret" not in str(raised.value)
    assert generations(emulator) == []


def test_a_page_over_the_size_cap_is_refused(ip, final, emulator, site, monkeypatch):
    monkeypatch.setattr(web, "MAX_BYTES", 1000)
    url = site.add("/big", "<p>" + "word " * 1000 + "</p>")
    with pytest.raises(UsageError, match="larger than"):
        ip.run_cell_magic("qwen", f"--url {url}", "Read it")
    assert generations(emulator) == []
