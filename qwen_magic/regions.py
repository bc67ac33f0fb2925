"""Where each region's endpoints live (reference §1): one table, one function."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str
    region_id: str
    name: str
    shared_host: str | None  # the DashScope (shared) domain, if the region has one
    legacy_responses: bool  # whether the legacy Responses path is documented there


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("sg", "ap-southeast-1", "Singapore", "dashscope-intl.aliyuncs.com", True),
        Region("us", "us-east-1", "US (Virginia)", "dashscope-us.aliyuncs.com", True),
        Region("cn", "cn-beijing", "China (Beijing)", "dashscope.aliyuncs.com", True),
        Region(
            "hk", "cn-hongkong", "China (Hong Kong)", "cn-hongkong.dashscope.aliyuncs.com", False
        ),
        Region("de", "eu-central-1", "Germany (Frankfurt)", None, False),
    )
}

PATHS = {
    "chat": "/compatible-mode/v1",
    "responses": "/compatible-mode/v1",
    "responses-legacy": "/api/v2/apps/protocols/compatible-mode/v1",
    "dashscope": "/api/v1",
}


class RegionError(ValueError):
    """A region/workspace combination that has no documented endpoint."""


def host_for(region: str, workspace: str | None = None) -> str:
    try:
        info = REGIONS[region]
    except KeyError:
        known = ", ".join(REGIONS)
        raise RegionError(f"Unknown region {region!r}; use one of {known}.") from None
    if workspace:
        return f"{workspace}.{info.region_id}.maas.aliyuncs.com"
    if info.shared_host is None:
        raise RegionError(
            f"Region {region!r} ({info.name}) has no shared DashScope host: set your Model "
            f'Studio workspace id with `%config QwenMagics.workspace = "ws-..."` (or pass '
            f"--base-url)."
        )
    return info.shared_host


def base_url(api: str, region: str, workspace: str | None = None, *, legacy: bool = False) -> str:
    """The base URL handed to the SDK of ``api`` for ``region``."""
    key = "responses-legacy" if api == "responses" and legacy else api
    if key == "responses-legacy" and not workspace and not REGIONS[region].legacy_responses:
        raise RegionError(f"The legacy Responses path is not documented for region {region!r}.")
    return f"https://{host_for(region, workspace)}{PATHS[key]}"
