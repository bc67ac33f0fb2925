"""Where each region's endpoints live (docs/wire.md §1), and which hosts are Model Studio's."""

from __future__ import annotations

import re
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


# A workspace id becomes the first label of a host name: one DNS label, nothing else.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

# Model Studio's own hosts: the shared DashScope domains (dashscope.aliyuncs.com,
# dashscope-intl…, cn-hongkong.dashscope…) and the workspace / trial domains
# ({id}.{region-id}.maas.aliyuncs.com). Not any *.aliyuncs.com: under it anyone can run a
# server (a Function Compute trigger, an OSS bucket) that would receive the key.
_MODEL_STUDIO = re.compile(
    r"(?:[a-z0-9-]+\.)?dashscope[a-z0-9-]*\.aliyuncs\.com"
    r"|[a-z0-9-]+\.[a-z0-9-]+\.maas\.aliyuncs\.com"
)


def check_workspace(workspace: str | None) -> str | None:
    """The workspace id, or a RegionError: it must be one host-name label (ws-…, llm-…)."""
    if workspace is None or workspace == "":
        return None
    if not isinstance(workspace, str) or not _LABEL.fullmatch(workspace):
        raise RegionError(
            f"The workspace {workspace!r} is not a Model Studio workspace id: it becomes part of "
            "a host name, so it may hold only letters, digits and inner hyphens (e.g. "
            '"ws-a1b2c3d4"). Copy it from the Model Studio console, or set '
            "`%config QwenMagics.workspace = None`."
        )
    return workspace


def is_model_studio_host(host: str | None) -> bool:
    """True for Alibaba Cloud Model Studio hosts, the only ones the key goes to by default."""
    return bool(host and _MODEL_STUDIO.fullmatch(host.lower().rstrip(".")))


def host_for(region: str, workspace: str | None = None) -> str:
    try:
        info = REGIONS[region]
    except KeyError:
        known = ", ".join(REGIONS)
        raise RegionError(f"Unknown region {region!r}; use one of {known}.") from None
    if check_workspace(workspace):
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
