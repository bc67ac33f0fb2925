"""Every region resolves to its documented host, for every protocol (reference §1)."""

from __future__ import annotations

import pytest

from qwen_magic.regions import RegionError, base_url

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
