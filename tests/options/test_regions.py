"""Every region resolves to its documented host, for every protocol (docs/wire.md §1)."""

from __future__ import annotations

import pytest

from qwen_magic.options.regions import RegionError, base_url, is_model_studio_host

SHARED = {
    "sg": "dashscope-intl.aliyuncs.com",
    "us": "dashscope-us.aliyuncs.com",
    "cn": "dashscope.aliyuncs.com",
    "hk": "cn-hongkong.dashscope.aliyuncs.com",
}
REGION_IDS = {
    "sg": "ap-southeast-1",
    "us": "us-east-1",
    "cn": "cn-beijing",
    "hk": "cn-hongkong",
    "de": "eu-central-1",
}


@pytest.mark.parametrize("region", SHARED)
def test_shared_hosts(region: str) -> None:
    host = SHARED[region]
    assert base_url("chat", region) == f"https://{host}/compatible-mode/v1"
    assert base_url("responses", region) == f"https://{host}/compatible-mode/v1"
    assert base_url("dashscope", region) == f"https://{host}/api/v1"


@pytest.mark.parametrize("region", REGION_IDS)
def test_workspace_hosts(region: str) -> None:
    host = f"ws-abc.{REGION_IDS[region]}.maas.aliyuncs.com"
    assert base_url("chat", region, "ws-abc") == f"https://{host}/compatible-mode/v1"
    assert base_url("dashscope", region, "ws-abc") == f"https://{host}/api/v1"


def test_legacy_responses_path() -> None:
    assert (
        base_url("responses", "sg", legacy=True)
        == "https://dashscope-intl.aliyuncs.com/api/v2/apps/protocols/compatible-mode/v1"
    )


def test_frankfurt_without_workspace_explains_itself() -> None:
    with pytest.raises(RegionError, match="workspace"):
        base_url("chat", "de")


@pytest.mark.parametrize(
    "workspace", ["evil.com/x#", "a.b", "x\\@y", "-ws", "ws-", "ws_1", "w" * 64]
)
def test_a_workspace_must_be_one_host_label(workspace: str) -> None:
    with pytest.raises(RegionError, match="not a Model Studio workspace id"):
        base_url("chat", "sg", workspace)


@pytest.mark.parametrize(
    ("host", "model_studio"),
    [
        ("dashscope.aliyuncs.com", True),
        ("dashscope-intl.aliyuncs.com", True),
        ("cn-hongkong.dashscope.aliyuncs.com", True),
        ("ws-a1.eu-central-1.maas.aliyuncs.com", True),
        ("trial.cn-beijing.maas.aliyuncs.com", True),
        ("DASHSCOPE.ALIYUNCS.COM.", True),
        ("1234.cn-hangzhou.fc.aliyuncs.com", False),  # anyone's Function Compute trigger
        ("bucket.oss-cn-beijing.aliyuncs.com", False),  # anyone's OSS bucket
        ("aliyuncs.com", False),
        ("dashscope.aliyuncs.com.example.com", False),
        ("a.b.dashscope.aliyuncs.com", False),
        ("", False),
    ],
)
def test_which_hosts_are_model_studio(host: str, model_studio: bool) -> None:
    assert is_model_studio_host(host) is model_studio
