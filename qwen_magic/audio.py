"""Speech as plain data: ``Result.audio`` holds the PCM a Qwen-Omni model spoke.

The service streams raw 16-bit mono PCM (base64 in ``delta.audio["data"]``) at
``SPEECH_RATE``; this module turns it into a WAV file (stdlib ``wave``), a player, and a
smaller copy that fits a saved notebook (down-sampled with ``audioop`` where Python still has
it, else numpy, else plain Python). No SDK and no widget is imported here.
"""

from __future__ import annotations

import base64
import html
import io
import sys
import wave
from pathlib import Path
from typing import Any

# The rate of Qwen-Omni's speech: the documented examples decode the PCM as int16 and write it
# at 24,000 Hz (docs/wire.md §12). The one place that knows it.
SPEECH_RATE = 24_000
SPEECH_WIDTH = 2  # bytes per sample (16-bit signed, little-endian)

# Down-sampled copies tried, best first, when a player must fit a budget: (rate, bytes per
# sample). 16 kHz keeps speech clear; 8 kHz 8-bit is telephone quality.
SMALLER = ((16_000, 2), (16_000, 1), (8_000, 1))


class Audio:
    """Speech (or any PCM audio): ``.wav_bytes``, ``.save(path)``, ``.duration``,
    ``.sample_rate``; shown as an ``<audio>`` player in a notebook."""

    def __init__(
        self,
        pcm: bytes,
        sample_rate: int = SPEECH_RATE,
        sample_width: int = SPEECH_WIDTH,
        channels: int = 1,
        transcript: str = "",
    ) -> None:
        frame = sample_width * channels
        self.pcm = bytes(pcm[: len(pcm) - len(pcm) % frame]) if frame else bytes(pcm)
        self.sample_rate = sample_rate
        self.sample_width = sample_width
        self.channels = channels
        self.transcript = transcript  # what the service said the speech says, when it did
        self._wav: bytes | None = None

    @property
    def frames(self) -> int:
        return len(self.pcm) // (self.sample_width * self.channels)

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def wav_bytes(self) -> bytes:
        """The audio as a WAV file."""
        if self._wav is None:
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as out:
                out.setnchannels(self.channels)
                out.setsampwidth(self.sample_width)
                out.setframerate(self.sample_rate)
                out.writeframes(self.pcm)
            self._wav = buffer.getvalue()
        return self._wav

    @property
    def data_url(self) -> str:
        return "data:audio/wav;base64," + base64.b64encode(self.wav_bytes).decode("ascii")

    def save(self, path: str | Path) -> Path:
        """Write the WAV file (a ``.wav`` suffix is added when the name has none)."""
        target = Path(path).expanduser()
        if not target.suffix:
            target = target.with_suffix(".wav")
        target.write_bytes(self.wav_bytes)
        return target

    def fitted(self, budget: int) -> Audio | None:
        """This audio, or a down-sampled copy, whose data URL is at most ``budget`` bytes;
        None when even the smallest copy is larger."""
        if data_url_size(len(self.wav_bytes)) <= budget:
            return self
        for rate, width in SMALLER:
            if rate > self.sample_rate or (rate == self.sample_rate and width >= self.sample_width):
                continue
            frames = self.duration * rate
            if data_url_size(44 + int(frames) * width * self.channels) > budget:
                continue
            return self.resampled(rate, width)
        return None

    def resampled(self, rate: int, width: int) -> Audio:
        """A copy at ``rate`` Hz with ``width`` bytes per sample (mono 16-bit input)."""
        pcm = resample(self.pcm, self.sample_width, self.sample_rate, rate, width)
        return Audio(pcm, rate, width, self.channels, self.transcript)

    def player_html(self) -> str:
        return player(self.data_url, self.describe())

    def _repr_html_(self) -> str:
        return self.player_html()

    def describe(self) -> str:
        """``3.2 s · 24 kHz · 16-bit mono``."""
        bits = 8 * self.sample_width
        layout = "mono" if self.channels == 1 else f"{self.channels} channels"
        return f"{seconds(self.duration)} · {self.sample_rate / 1000:g} kHz · {bits}-bit {layout}"

    def __repr__(self) -> str:
        return f"<Audio {self.describe()}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audio):
            return NotImplemented
        mine = (self.pcm, self.sample_rate, self.sample_width, self.channels)
        return mine == (other.pcm, other.sample_rate, other.sample_width, other.channels)

    __hash__ = None  # type: ignore[assignment]


def player(src: str, title: str = "") -> str:
    """An ``<audio controls>`` element (``src``: a data URL or a relative file name)."""
    shown = html.escape(title, quote=True)
    return (
        f'<audio controls preload="metadata" title="{shown}" '
        f'src="{html.escape(src, quote=True)}"></audio>'
    )


def seconds(value: float) -> str:
    """``0.6 s``, ``12.4 s``, ``2 min 05 s``."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def data_url_size(wav_size: int) -> int:
    """Bytes of ``data:audio/wav;base64,…`` for a WAV file of ``wav_size`` bytes."""
    return len("data:audio/wav;base64,") + 4 * -(-wav_size // 3)


def wav_info(data: bytes) -> tuple[int, int, int, int] | None:
    """(rate, sample width, channels, frames) of a PCM WAV file; None when it is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            return (
                source.getframerate(),
                source.getsampwidth(),
                source.getnchannels(),
                source.getnframes(),
            )
    except (wave.Error, EOFError, ValueError):
        return None


def pcm_of_array(values: Any) -> tuple[bytes, int]:
    """A numpy array of samples (1-D mono, or frames × channels; floats in [-1, 1] or ints)
    as 16-bit PCM bytes, and its channel count."""
    import numpy as np

    array = np.asarray(values)
    if array.ndim not in (1, 2) or array.size == 0:
        raise ValueError(f"an array of shape {array.shape} is not audio samples")
    channels = 1 if array.ndim == 1 else int(array.shape[1])
    if array.dtype.kind == "f":
        array = np.clip(np.nan_to_num(array), -1.0, 1.0) * 32767.0
    elif array.dtype.kind not in "iu":
        raise ValueError(f"an array of {array.dtype} is not audio samples")
    elif array.dtype.itemsize > 2 or array.dtype.kind == "u":
        peak = float(np.abs(array).max()) or 1.0
        array = array / peak * 32767.0 if peak > 32767 or array.dtype.kind == "u" else array
    return np.asarray(array, dtype="<i2").tobytes(), channels


# -- resampling: audioop (Python ≤ 3.12), else numpy, else plain Python -----------------------
def resample(pcm: bytes, width: int, rate: int, new_rate: int, new_width: int) -> bytes:
    """Mono PCM at ``rate`` Hz, ``width`` bytes a sample → ``new_rate``, ``new_width``
    (8-bit WAV samples are unsigned, 16-bit signed, as the WAV format has them)."""
    audioop = _audioop()
    if audioop is not None:
        out = pcm
        if new_rate != rate:
            out = audioop.ratecv(out, width, 1, rate, new_rate, None)[0]
        if new_width != width:
            out = audioop.lin2lin(out, width, new_width)
            if new_width == 1:
                out = audioop.bias(out, 1, 128)
        return out
    samples = _samples(pcm, width)
    count = len(samples) * new_rate // rate if rate else 0
    numpy = sys.modules.get("numpy") or _import_numpy()
    if numpy is not None:
        source = numpy.asarray(samples, dtype=float)
        at = numpy.arange(count) * (rate / new_rate)
        values = numpy.interp(at, numpy.arange(len(source)), source) if len(source) else at
        values = numpy.clip(numpy.round(values), -32768, 32767).astype(int).tolist()
    else:
        step = rate / new_rate
        values = [samples[min(len(samples) - 1, int(i * step))] for i in range(count)]
    return _pack(values, new_width)


def _audioop() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # removed in Python 3.13
            return None
    return audioop


def _import_numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _samples(pcm: bytes, width: int) -> list[int]:
    """Signed sample values on the 16-bit scale."""
    if width == 1:
        return [(b - 128) << 8 for b in pcm]
    import array

    values = array.array("h")
    values.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def _pack(values: list[int], width: int) -> bytes:
    if width == 1:
        return bytes(max(0, min(255, (v >> 8) + 128)) for v in values)
    import array

    out = array.array("h", (max(-32768, min(32767, v)) for v in values))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()
