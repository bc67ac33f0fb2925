"""``--url URL``: a web page's readable text, fetched before the request.

httpx fetches (http and https only; a connect and read timeout, a whole-fetch deadline, at
most ``MAX_BYTES``, at most ``MAX_REDIRECTS`` redirects); no key or credential is ever sent:
a fresh client with no auth and no cookies of ours. trafilatura extracts the page's main
text (navigation, footers and ads dropped) and its title (the ``[web]`` extra). Plain text,
Markdown, JSON and CSV are kept as they are; a PDF's text comes from pypdf.

Pages are fetched concurrently on worker threads; the kernel's thread waits for them (an
interrupt ends the wait at once) before the request is built: there is no Stop button yet.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from qwen_magic.errors import QwenUsageError
from qwen_magic.files import size_text

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
DEADLINE = 20.0  # seconds for a whole fetch, however slowly the server drips
USER_AGENT = "qwen-magic (readable text for a prompt; +https://pypi.org/project/qwen-magic/)"

_TEXT_TYPES = {
    "text/plain": ("text", ""),
    "text/markdown": ("markdown", "markdown"),
    "text/csv": ("csv", "csv"),
    "application/json": ("json", "json"),
    "text/x-python": ("python", "python"),
}


@dataclass(frozen=True)
class Page:
    url: str  # as given
    final_url: str  # after redirects
    title: str | None
    kind: str  # "page", "text", "json", "pdf", ...
    language: str
    text: str


def check_url(url: str) -> None:
    """Only absolute http(s) URLs with a host, and no credentials in them."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise QwenUsageError(f"--url {url!r} cannot be read ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QwenUsageError(
            f"--url {url!r} is not an http(s) URL: give a web address such as "
            "https://example.org/page (a local file goes with --file)."
        )
    if "@" in parts.netloc:
        raise QwenUsageError(
            f"--url {parts.scheme}://…@{parts.hostname}: a URL carrying a user name or "
            "password is refused (it would end up in the prompt and the notebook)."
        )


def fetch_pages(urls: list[str], deadline: float = DEADLINE) -> list[Page]:
    """Every page, in order (each URL checked before any is fetched)."""
    for url in urls:
        check_url(url)
    if not urls:
        return []
    pool = ThreadPoolExecutor(max_workers=min(4, len(urls)), thread_name_prefix="qwen-url")
    try:
        futures = [pool.submit(fetch_page, url, deadline) for url in urls]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def fetch_page(url: str, deadline: float = DEADLINE) -> Page:
    import httpx

    ends = time.monotonic() + deadline
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/*;q=0.9,*/*;q=0.5"},
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise QwenUsageError(
                    f"--url {url} answered HTTP {response.status_code} "
                    f"{response.reason_phrase}: check the address (a page behind a login "
                    "can't be fetched)."
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise QwenUsageError(
                        f"--url {url} is larger than {size_text(MAX_BYTES)}: save the part you "
                        "need to a file and attach it with --file."
                    )
                if time.monotonic() > ends:
                    raise QwenUsageError(
                        f"--url {url} took more than {deadline:g} s to fetch: try again, or "
                        "save the page and attach it with --file."
                    )
            final = str(response.url)
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            charset = response.charset_encoding
    except httpx.TooManyRedirects:
        raise QwenUsageError(f"--url {url} redirects more than {MAX_REDIRECTS} times.") from None
    except httpx.UnsupportedProtocol:
        raise QwenUsageError(f"--url {url} redirects to an address that is not http(s).") from None
    except httpx.TimeoutException:
        raise QwenUsageError(
            f"--url {url} did not answer in time: check the address, or save the page and "
            "attach it with --file."
        ) from None
    except httpx.HTTPError as exc:
        raise QwenUsageError(
            f"--url {url} could not be fetched ({type(exc).__name__}: {exc})."
        ) from None
    return _page(url, final, ctype, charset, bytes(body))


def _page(url: str, final: str, ctype: str, charset: str | None, body: bytes) -> Page:
    if ctype in ("text/html", "application/xhtml+xml", ""):
        title, text = readable_text(body, final)
        return Page(url, final, title, "page", "markdown", text)
    if ctype in _TEXT_TYPES or ctype.startswith("text/") or ctype.endswith("+json"):
        kind, language = _TEXT_TYPES.get(ctype, ("text", ""))
        return Page(url, final, None, kind, language, body.decode(charset or "utf-8", "replace"))
    if ctype == "application/pdf":
        from qwen_magic.context.files import pdf_text

        return Page(url, final, None, "pdf", "", pdf_text(body, f"--url {url}")[0])
    raise QwenUsageError(
        f"--url {url} is {ctype or 'of an unknown type'}, not a web page or text: --url reads "
        "HTML, text, JSON, CSV and PDF."
    )


def readable_text(html: bytes, url: str) -> tuple[str | None, str]:
    """The page's title and main text (as Markdown), without navigation and boilerplate."""
    try:
        import trafilatura
    except ImportError:
        raise QwenUsageError(
            "--url needs trafilatura to extract a page's readable text: "
            "pip install 'qwen-magic[web]' (or pip install trafilatura), then run the cell again."
        ) from None
    text = trafilatura.extract(
        html, url=url, output_format="markdown", include_comments=False, include_tables=True
    )
    if not text:  # no main content found: all of the page's text rather than nothing
        text = trafilatura.html2txt(html)
    metadata = trafilatura.extract_metadata(html, default_url=url)
    title = metadata.title if metadata is not None else None
    if not (text or "").strip():
        raise QwenUsageError(f"--url {url}: the page has no readable text.")
    return title, text
