"""How speech is shown: the spoken answer's player (live, static, terminal) and audio inputs.

The static output is saved with the notebook, so its player carries at most
``SPEECH_BUDGET`` bytes of data URL: the speech as it came when it fits, else a down-sampled
copy (16 kHz, then 8 kHz 8-bit), else the WAV file is written next to the notebook (the
kernel's working folder) and the player and a link point to it, which the output says.
"""

from __future__ import annotations

import hashlib
import html
import os
from pathlib import Path
from typing import Any

from qwen_magic.audio import Audio, player, seconds

SPEECH_BUDGET = 1_000_000  # bytes of data URL a saved notebook keeps per spoken answer
INPUT_BUDGET = 300_000  # an audio input's player in the saved notebook (else its name only)


def speech_file(audio: Audio, folder: str | Path | None = None) -> Path:
    """The speech saved as ``qwen-speech-<hash>.wav`` in ``folder`` (the working folder): the
    same speech is written once, under the same name."""
    digest = hashlib.sha1(audio.pcm, usedforsecurity=False).hexdigest()[:12]
    target = Path(folder or os.getcwd()) / f"qwen-speech-{digest}.wav"
    if not target.exists():
        audio.save(target)
    return target


def speech_html(audio: Audio | None) -> str:
    """The spoken answer's player for the static output ("" without speech)."""
    if audio is None or not audio.frames:
        return ""
    kept = audio.fitted(SPEECH_BUDGET)
    caption = f"🔊 spoken answer · {seconds(audio.duration)}"
    if kept is not None:
        if kept is not audio:
            caption += (
                f" (kept in the notebook at {kept.sample_rate / 1000:g} kHz, "
                f"{8 * kept.sample_width}-bit to stay under 1 MB; _qwen.audio has it as it came)"
            )
        return f"{player(kept.data_url, audio.describe())}<br><sub>{html.escape(caption)}</sub>"
    try:
        path = speech_file(audio)
    except OSError as exc:
        note = (
            f"{caption}: too long to keep in the notebook, and it could not be saved next to it "
            f"({exc.strerror or exc}); _qwen.audio.save(path) writes it."
        )
        return f"<sub>{html.escape(note)}</sub>"
    name = html.escape(path.name, quote=True)
    note = (
        f"{caption}: too long to keep inside the notebook (over 1 MB even at 8 kHz), so it "
        f"was saved as {path.name} next to it, in {path.parent}; the player plays that file."
    )
    return (
        f"{player(path.name, audio.describe())}<br>"
        f'<sub>{html.escape(note)} <a href="{name}">{name}</a></sub>'
    )


def speech_plain(audio: Audio | None) -> str:
    if audio is None or not audio.frames:
        return ""
    return f"[spoken answer: {audio.describe()}; _qwen.audio.save('answer.wav') writes it]"


def speech_saved_line(audio: Audio | None) -> str:
    """Terminal IPython: the speech written to a WAV file, and where."""
    if audio is None or not audio.frames:
        return ""
    try:
        path = speech_file(audio)
    except OSError as exc:
        return f"[spoken answer: {audio.describe()}; not saved ({exc.strerror or exc})]"
    return f"[spoken answer: {seconds(audio.duration)} saved to {path.resolve()}]"


def speech_progress(audio: Audio | None) -> str:
    """The live view's line while the speech arrives."""
    if audio is None or not audio.frames:
        return "<small>🔊 speech: waiting…</small>"
    return f"<small>🔊 {seconds(audio.duration)} of speech so far (a player follows)</small>"


# -- audio inputs -----------------------------------------------------------------------------
def input_audio_html(item: Any) -> str:
    """An ``-a`` input among the thumbnails: a small player when it is a URL or small enough to
    keep in the saved notebook, else its name and length."""
    title = html.escape(item.describe(), quote=True)
    url = item.url or ""
    small = url.startswith("data:") and len(url) <= INPUT_BUDGET
    if item.is_remote or small:
        audio = (
            f'<audio controls preload="none" title="{title}" style="height:32px;width:220px" '
            f'src="{html.escape(url, quote=True)}"></audio>'
        )
        return f'<span title="{title}">🔊 {html.escape(item.source)}<br>{audio}</span>'
    return f'<span title="{title}">🔊 {html.escape(item.describe())}</span>'


def input_audio_widget(item: Any) -> Any:
    """The live view's cell for an ``-a`` input: a small player."""
    import base64

    import ipywidgets as w

    url = item.url or ""
    if url.startswith("data:") and ";base64," in url[:100]:
        head, payload = url.split(",", 1)
        mime = head[len("data:") : head.index(";")]
        subtype = mime.split("/", 1)[1] if mime.startswith("audio/") else ""
        return w.Audio(
            value=base64.b64decode(payload),
            format=subtype or "wav",
            autoplay=False,
            layout=w.Layout(width="220px"),
        )
    shown = html.escape(url, quote=True)
    return w.HTML(f'<audio controls preload="none" style="width:220px" src="{shown}"></audio>')
