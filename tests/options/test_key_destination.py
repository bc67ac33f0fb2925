"""The key goes only where the user meant: Model Studio hosts, or a --base-url they approved.

A base URL that HTTP clients could read differently (userinfo, a backslash, whitespace,
control characters, a fragment) or a workspace that is not one host label is refused before
any request; a redirect to another host never carries the key along.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator.echo import EchoServer

APIS = ("chat", "responses", "dashscope")
PATHS = {"chat": "/compatible-mode/v1", "responses": "/compatible-mode/v1", "dashscope": "/api/v1"}
ALIBABA = "dashscope-intl.aliyuncs.com"


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def echo(echo_server: EchoServer, ip: Any, magics: Any) -> EchoServer:
    """The echo server as the only server around; the magic on the real key path."""
    echo_server.mode = "answer"
    echo_server.clear()
    magics.use_emulator(None)
    magics.max_retries = 0
    return echo_server


def crafted_urls(port: int, api: str) -> dict[str, str]:
    """Base URLs that point at 127.0.0.1:port for some client while looking like Alibaba."""
    local, path = f"127.0.0.1:{port}", PATHS[api]
    return {
        "backslash-at": f"http://{local}\\@{ALIBABA}{path}",  # requests goes to 127.0.0.1
        "userinfo": f"http://{ALIBABA}@{local}{path}",
        "user-password": f"http://user:secret-password@{local}{path}",
        "fragment-at": f"http://{local}{path}#@{ALIBABA}",
        "space": f"http://{local} .aliyuncs.com{path}",
        "tab": f"http://{local}\t.{ALIBABA}{path}",
        "newline": f"http://{local}\n{path}",
        "nul": f"http://{local}\x00.{ALIBABA}{path}",
        "fullwidth-dot": f"https://dashscope-intl\u3002aliyuncs.com{path}",
        "percent-host": f"http://127.0.0.1%3A{port}{path}",
    }


@pytest.mark.parametrize("case", list(crafted_urls(1, "chat")))
@pytest.mark.parametrize("api", APIS)
def test_a_crafted_base_url_is_refused_before_any_request(
    ip, magics, echo, test_key, api, case
) -> None:
    url = crafted_urls(echo.port, api)[case]
    magics.send_key_to_base_url = False  # the key is not even meant for a --base-url
    with pytest.raises(UsageError, match="is refused") as caught:
        ip.run_cell_magic("qwen", f"--api {api} --base-url {shlex.quote(url)}", "Hello")
    assert echo.requests == []
    assert "secret-password" not in str(caught.value)
    assert test_key not in str(caught.value)


@pytest.mark.parametrize("case", ["backslash-at", "user-password", "fragment-at", "tab"])
def test_config_refuses_a_crafted_base_url_at_once(ip, magics, echo, caplog, case) -> None:
    url = crafted_urls(echo.port, "chat")[case]
    ip.run_line_magic("config", f"QwenMagics.base_url = {url!r}")
    assert "is refused" in caplog.text  # %config shows it at once
    assert "secret-password" not in caplog.text
    assert magics.base_url is None
    with capture_output():
        ip.run_cell_magic("qwen", "-q", "Hello")  # still the configured endpoint
    assert echo.requests == []


@pytest.mark.parametrize("api", APIS)
def test_the_backslash_url_on_the_command_line_is_refused(ip, magics, echo, api) -> None:
    """The reproduction: --base-url 'http://127.0.0.1:PORT\\@dashscope-intl.aliyuncs.com/…'."""
    url = f"http://127.0.0.1:{echo.port}\\@{ALIBABA}{PATHS[api]}"
    with pytest.raises(UsageError, match="backslash"):
        ip.run_cell_magic("qwen", f"--api {api} --base-url '{url}'", "Hello")
    assert echo.requests == []


@pytest.mark.parametrize("workspace", ["evil.com/x#", "a.b", "x\\@y", "127.0.0.1:1/x#", "-ws"])
def test_a_workspace_that_is_not_a_host_label_is_refused(
    ip, magics, echo, caplog, workspace
) -> None:
    ip.run_line_magic("config", f"QwenMagics.workspace = {workspace!r}")
    assert "not a Model Studio workspace id" in caplog.text  # %config shows it at once
    assert magics.workspace is None
    for api in APIS:
        with pytest.raises(UsageError, match="workspace"):  # de has no shared host: none
            ip.run_cell_magic("qwen", f"--api {api} --region de", "Hello")
    assert echo.requests == []


@pytest.mark.parametrize("workspace", ["evil.com/x#", "a.b", "x\\@y"])
def test_the_region_table_refuses_a_crafted_workspace_too(workspace) -> None:
    """The call-time check, for a workspace that did not come through the trait."""
    from qwen_magic.options.build import resolve_endpoint

    for api in APIS:
        with pytest.raises(UsageError, match="not a Model Studio workspace id"):
            resolve_endpoint(api, "sg", workspace, None)


def test_a_workspace_id_builds_the_workspace_host(ip, magics) -> None:
    from qwen_magic.options.build import build_request

    magics.use_emulator(None)
    magics.workspace = "ws-a1b2c3d4"
    request = build_request("Hello", {"region": "de"}, magics)
    assert (
        request.base_url == "https://ws-a1b2c3d4.eu-central-1.maas.aliyuncs.com/compatible-mode/v1"
    )


@pytest.mark.parametrize(
    ("url", "gets_key"),
    [
        ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", True),
        ("https://cn-hongkong.dashscope.aliyuncs.com/api/v1", True),
        ("https://ws-a1b2.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1", True),
        ("https://DashScope-US.aliyuncs.com./compatible-mode/v1", True),
        # other aliyuncs.com hosts are not Model Studio: anyone can run a server there
        ("https://1234.cn-hangzhou.fc.aliyuncs.com/2016-08-15/proxy/v1", False),
        ("https://bucket.oss-cn-beijing.aliyuncs.com/v1", False),
        ("https://dashscope-intl.aliyuncs.com.example.com/v1", False),
        ("https://example.com/dashscope-intl.aliyuncs.com/v1", False),
    ],
)
@pytest.mark.parametrize("api", APIS)
def test_only_model_studio_hosts_get_the_key(ip, magics, test_key, api, url, gets_key) -> None:
    from qwen_magic.options.build import build_request

    magics.use_emulator(None)
    request = build_request("Hello", {"api": api, "base_url": url}, magics)
    assert (request.api_key == test_key) is gets_key
    assert request.api_key in (test_key, "not-needed")


def test_model_studio_over_plain_http_is_refused(ip, magics, echo) -> None:
    with pytest.raises(UsageError, match="unencrypted"):
        ip.run_cell_magic("qwen", f"--base-url http://{ALIBABA}/compatible-mode/v1", "Hello")


@pytest.mark.parametrize("api", APIS)
def test_a_redirect_to_another_host_does_not_carry_the_key(ip, magics, echo, test_key, api) -> None:
    """Approved for 127.0.0.1, redirected (307) to localhost: the clients drop the key."""
    echo.mode = "redirect"
    magics.send_key_to_base_url = True
    magics.base_url = echo.base_for(api)
    with capture_output():
        ip.run_cell_magic("qwen", f"--api {api} -o r", "Hello")
    first, second = echo.requests
    assert (first.host, first.api_key) == ("127.0.0.1", test_key)
    assert second.host == "localhost" and second.path == first.path
    assert second.api_key is None and "authorization" not in second.headers
    assert ip.user_ns["r"].text.startswith("answer: (no key)")  # it did follow the redirect


def test_an_unapproved_base_url_gets_a_placeholder_not_the_key(ip, magics, echo, test_key):
    for api in APIS:
        magics.base_url = echo.base_for(api)
        with capture_output():
            ip.run_cell_magic("qwen", f"--api {api} -q", "Hello")
    assert [q.api_key for q in echo.requests] == ["not-needed"] * 3
