"""Python functions as tools: their JSON schema (``schema``), the ``tool`` decorator, and the
loop that runs the calls a model asks for on the kernel's thread (``loop``)."""

from __future__ import annotations

from qwen_magic.tools.schema import Tool, tool, tool_of

__all__ = ["Tool", "tool", "tool_of"]
