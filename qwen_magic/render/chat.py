"""A chat's history as Markdown (``%qwencmd history NAME``): every block is untrusted text."""

from __future__ import annotations

from qwen_magic.chats import Chat, text_of
from qwen_magic.render.markdown import close_open_fence
from qwen_magic.render.safe import inline_code, plain_markdown, safe_markdown


def chat_markdown(chat: Chat) -> str:
    """The history as Markdown. Answers, reasoning and a loaded file's text are untrusted:
    each block is made safe as it will be parsed (after its ``**You:**`` prefix)."""
    lines = [f"**Chat {inline_code(chat.name)}** — {len(chat.turns)} turns"]
    if chat.system:
        lines.append(safe_markdown(close_open_fence(f"*system:* {chat.system}")))
    for turn in chat.turns:
        content = turn.user.get("content")
        text = content if isinstance(content, str) else text_of(content)
        lines.append(safe_markdown(close_open_fence(f"**You:** {text}")))
        if turn.reasoning:
            reasoning = safe_markdown(close_open_fence(str(turn.reasoning)))
            lines.append(f"<details><summary>Thinking</summary>\n\n{reasoning}\n\n</details>")
        model = plain_markdown(str(turn.model or "Qwen"))
        lines.append(safe_markdown(close_open_fence(f"**{model}:** {turn.answer}")))
    return "\n\n".join(lines)
