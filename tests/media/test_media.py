"""media/ (the record, sources.py, imaging.py): sources → checked, encoded Media; limits;
thumbnails; elision.

Test images are made at run time with Pillow (no binary files in the repository).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError
from PIL import Image

from qwen_magic.media import (
    DATA_URI_LIMIT,
    Media,
    check_media,
    elide,
    frame_limit,
    imaging,
    is_inline_image,
)
from qwen_magic.media.sources import load_media
from qwen_magic.request import Request
from qwen_magic.result import Result

BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{200,}")


def image_bytes(size=(64, 48), color="red", fmt="JPEG", mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def noise(size=(320, 240), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def decode(url: str) -> tuple[str, Image.Image]:
    head, payload = url.split(",", 1)
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return head, image


def one(images=(), videos=(), namespace=None) -> Media:
    (item,) = load_media(list(images), list(videos), [], namespace or {})
    return item


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# -- images ------------------------------------------------------------------------------------
def test_a_jpeg_file_is_sent_byte_for_byte_with_a_small_thumbnail(tmp_path) -> None:
    data = image_bytes((640, 480))
    (tmp_path / "photo.jpg").write_bytes(data)
    item = one(["photo.jpg"])
    assert item.url == "data:image/jpeg;base64," + base64.b64encode(data).decode()
    assert (item.kind, item.source, item.size, item.resized_from) == (
        "image",
        "photo.jpg",
        (640, 480),
        None,
    )
    assert item.thumbnail_size == (128, 96)
    assert Image.open(io.BytesIO(item.thumbnail)).format == "JPEG"
    assert item.describe() == "photo.jpg · 640×480"


def test_a_pil_image_is_sent_losslessly_as_png() -> None:
    picture = noise((50, 40))
    item = one(["{pic}"], namespace={"pic": picture})
    head, sent = decode(item.url)
    assert head == "data:image/png;base64"
    assert np.array_equal(np.asarray(sent), np.asarray(picture))
    assert item.source == "{pic}"


@pytest.mark.parametrize(
    ("array", "mode"),
    [
        (np.full((30, 40), 200, dtype=np.uint8), "L"),
        (np.zeros((30, 40, 3), dtype=np.uint8), "RGB"),
        (np.zeros((30, 40, 4), dtype=np.uint8), "RGBA"),
        (np.full((30, 40, 3), 0.5, dtype=np.float32), "RGB"),
        (np.ones((30, 40, 1), dtype=np.float64), "L"),
        (np.full((30, 40, 3), 255, dtype=np.int64), "RGB"),
    ],
)
def test_numpy_arrays(array, mode) -> None:
    item = one(["{a}"], namespace={"a": array})
    _, sent = decode(item.url)
    assert sent.mode == mode and sent.size == (40, 30)
    if array.dtype.kind == "f":
        assert np.asarray(sent).flat[0] == round(float(array.flat[0]) * 255)


def test_bytes_path_url_and_lists(tmp_path) -> None:
    data = image_bytes(fmt="PNG")
    (tmp_path / "p.png").write_bytes(data)
    namespace = {
        "raw": data,
        "path": Path("p.png"),
        "both": [Path("p.png"), "https://example.invalid/cat.png"],
    }
    items = load_media(["{raw}", "{path}", "{both}"], [], [], namespace)
    sources = [m.source for m in items]
    assert sources == ["{raw}", "p.png", "p.png", "https://example.invalid/cat.png"]
    png = "data:image/png;base64," + base64.b64encode(data).decode()
    assert [m.url for m in items[:3]] == [png, png, png]
    url = items[3]
    assert (url.url, url.thumbnail, url.is_remote) == (
        "https://example.invalid/cat.png",
        None,
        True,
    )


def test_globs_are_sorted_naturally(tmp_path) -> None:
    for n in (10, 2, 1):
        (tmp_path / f"shot{n}.png").write_bytes(image_bytes(fmt="PNG"))
    items = load_media(["shot*.png"], [], [], {})
    assert [m.source for m in items] == ["shot1.png", "shot2.png", "shot10.png"]


def test_exif_orientation_is_applied(tmp_path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    Image.new("RGB", (400, 200), "blue").save(tmp_path / "phone.jpg", exif=exif)
    item = one(["phone.jpg"])
    _, sent = decode(item.url)
    assert sent.size == (200, 400) and item.size == (200, 400)
    assert item.thumbnail_size == (64, 128)


def test_a_gif_is_converted_to_png(tmp_path) -> None:
    (tmp_path / "a.gif").write_bytes(image_bytes(fmt="GIF", mode="P"))
    assert one(["a.gif"]).url.startswith("data:image/png;base64,")


def test_tiny_images_are_upscaled_to_what_the_service_accepts() -> None:
    item = one(["{a}"], namespace={"a": np.zeros((4, 8), dtype=np.uint8)})
    assert item.size == (22, 11)


def test_over_the_limit_the_image_is_downscaled_keeping_its_aspect(monkeypatch) -> None:
    monkeypatch.setattr(imaging, "RAW_LIMIT", 40_000)
    picture = noise((900, 600))
    item = one(["{pic}"], namespace={"pic": picture})
    head, sent = decode(item.url)
    assert head == "data:image/jpeg;base64" and item.nbytes <= 40_000
    assert item.resized_from == (900, 600) and sent.size == item.size
    assert sent.size[0] < 900 and abs(sent.size[0] / sent.size[1] - 1.5) < 0.01
    assert "(from 900×600)" in item.describe()


def test_a_huge_photo_fits_the_services_data_uri_limit(tmp_path) -> None:
    noise((3000, 2400), seed=1).save(tmp_path / "big.png")  # ~21 MB of incompressible pixels
    assert (tmp_path / "big.png").stat().st_size > DATA_URI_LIMIT
    item = one(["big.png"])
    assert item.nbytes <= imaging.RAW_LIMIT and len(item.url) <= DATA_URI_LIMIT
    assert item.url.startswith("data:image/jpeg;base64,")


def test_thumbnails_stay_small_even_for_noise() -> None:
    for size in ((2000, 1500), (128, 128), (300, 20)):
        item = one(["{p}"], namespace={"p": noise(size)})
        assert max(item.thumbnail_size) <= 128
        assert len(base64.b64encode(item.thumbnail)) < 8000


# -- video -------------------------------------------------------------------------------------
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100


def test_a_video_file_travels_as_a_data_url(tmp_path) -> None:
    (tmp_path / "clip.mp4").write_bytes(MP4)
    item = one(videos=["clip.mp4"])
    assert item.url == "data:video/mp4;base64," + base64.b64encode(MP4).decode()
    assert item.chat_part() == {"type": "video_url", "video_url": {"url": item.url}}
    assert item.thumbnail is None and item.describe() == "clip.mp4 · video 0 KB"


def test_video_bytes_and_urls() -> None:
    assert one(videos=["{v}"], namespace={"v": MP4}).url.startswith("data:video/mp4;base64,")
    url = "https://example.invalid/cat.mp4"
    assert one(videos=[url]).chat_part() == {"type": "video_url", "video_url": {"url": url}}


def test_frames_from_a_list_an_array_a_glob_and_a_folder(tmp_path) -> None:
    frames = [noise((64, 48), seed=i) for i in range(5)]
    listed = one(videos=["{f}"], namespace={"f": frames})
    stacked = one(videos=["{a}"], namespace={"a": np.stack([np.asarray(f) for f in frames])})
    (tmp_path / "frames").mkdir()
    for i, frame in enumerate(frames):
        frame.save(tmp_path / "frames" / f"f{i}.png")
    globbed = one(videos=["frames/*.png"])
    folder = one(videos=["frames"])
    for item in (listed, stacked, globbed, folder):
        assert item.kind == "video" and len(item.frames) == 5
        assert item.chat_part() == {"type": "video", "video": item.frames}
        assert item.thumbnail is not None and item.describe().endswith("5 frames")
    urls = ["https://example.invalid/1.jpg"] * 4
    assert one(videos=["{u}"], namespace={"u": urls}).frames == urls


def test_big_frames_are_downscaled() -> None:
    item = one(videos=["{f}"], namespace={"f": [noise((2048, 1024))] * 4})
    assert item.size == (1024, 512)


def test_frame_limits_depend_on_the_model() -> None:
    assert frame_limit("qwen3-vl-plus") == frame_limit("qwen2.5-vl-72b-instruct") == 512
    assert frame_limit("qwen3.5-plus") == frame_limit("qwen-vl-max") == 80
    video = Media("video", "{f}", frames=["https://x.invalid/f.jpg"] * 100)
    check_media([video], model="qwen3-vl-plus", api="chat", history=[])
    with pytest.raises(
        UsageError, match=r"--video \{f\} has 100 frames; qwen3.5-plus takes 4 to 80"
    ):
        check_media([video], model="qwen3.5-plus", api="chat", history=[])
    video.frames = video.frames[:3]
    with pytest.raises(UsageError, match="has 3 frames: a video needs at least 4"):
        check_media([video], model="qwen3-vl-plus", api="chat", history=[])


def test_the_responses_api_takes_no_video() -> None:
    video = Media("video", "clip.mp4", url="https://x.invalid/clip.mp4")
    with pytest.raises(UsageError, match="The Responses API takes no video"):
        check_media([video], model="qwen3.5-plus", api="responses", history=[])
    earlier = {"role": "user", "content": [video.chat_part()]}
    with pytest.raises(UsageError, match="The Responses API takes no video"):
        check_media([], model="qwen3.5-plus", api="responses", history=[earlier])


# -- errors name the source and say what to do --------------------------------------------------
@pytest.mark.parametrize(
    ("images", "videos", "namespace", "message"),
    [
        (["nope.jpg"], [], {}, r"-i nope\.jpg is not a file \(looked in .*\): check the name"),
        (["shots/*.png"], [], {}, r"-i shots/\*\.png matched no files"),
        (["{d}"], [], {"d": {"a": 1}}, r"-i \{d\} is a dict: an image is a PIL image, a numpy"),
        (["{ghost}"], [], {}, r"-i \{ghost\} names 'ghost', which is not defined"),
        (["{[]}"], [], {}, r"-i \{\[\]\} is an empty list"),
        (["{a}"], [], {"a": np.zeros((3, 20, 20))}, r"shape \(3, 20, 20\).*transpose\(1, 2, 0\)"),
        (["{a}"], [], {"a": np.full((5, 5), 2.0)}, r"float array with values in \[2, 2\]"),
        (["{a}"], [], {"a": np.zeros((4, 5, 5, 3), np.uint8)}, r"stack of 4 frames.*--video"),
        (["{b}"], [], {"b": b"hello"}, r"-i \{b\} is not an image Pillow can read"),
        (["{w}"], [], {"w": Image.new("RGB", (1000, 4))}, r"refuses images longer than 200:1"),
        ([], ["{p}"], {"p": Image.new("RGB", (9, 9))}, r"--video \{p\} is a single image"),
        ([], ["{b}"], {"b": b"not a video"}, r"--video \{b\} is bytes that are not a video"),
        ([], ["{f}"], {"f": ["nope.png"] * 4}, r"--video \{f\} frame 0 is not a file"),
    ],
)
def test_bad_sources(images, videos, namespace, message) -> None:
    with pytest.raises(UsageError, match=message):
        load_media(images, videos, [], namespace)


def test_bad_files(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(image_bytes((200, 200))[:300])
    (tmp_path / "clip.mp4").write_bytes(MP4)
    (tmp_path / "big.mp4").write_bytes(MP4 + b"\x00" * 8_000_000)
    (tmp_path / "still.png").write_bytes(image_bytes(fmt="PNG"))
    (tmp_path / "dir").mkdir()
    cases = {
        "notes.txt": "-i notes.txt is not an image Pillow can read: convert it to PNG or JPEG.",
        "broken.jpg": "corrupt: re-export or re-download it.",
        "clip.mp4": "-i clip.mp4 is a video: send it with --video clip.mp4.",
        "dir": "-i dir is a folder: give an image file, or a glob",
    }
    for source, message in cases.items():
        with pytest.raises(UsageError, match=re.escape(message)):
            load_media([source], [], [], {})
    with pytest.raises(UsageError, match=r"--video big\.mp4 is 7\.6 MB; sent inline a video"):
        load_media([], ["big.mp4"], [], {})
    with pytest.raises(UsageError, match=r"--video still\.png is a single image"):
        load_media([], ["still.png"], [], {})
    with pytest.raises(UsageError, match=r"--video notes\.txt is not a video format"):
        load_media([], ["notes.txt"], [], {})


def test_too_many_images() -> None:
    images = [Media("image", f"{i}.png", url="https://x.invalid/i.png") for i in range(51)]
    with pytest.raises(UsageError, match="51 images in one prompt is too many"):
        check_media(images, model="qwen3.5-plus", api="chat", history=[])


# -- inline {name}, elision, lightness ----------------------------------------------------------
def test_which_values_in_the_prompt_are_images() -> None:
    assert is_inline_image(Image.new("RGB", (4, 4)))
    assert is_inline_image(np.zeros((4, 4, 3), np.uint8))
    assert is_inline_image(np.zeros((4, 4, 4), np.float32))
    assert is_inline_image(image_bytes(fmt="PNG")) and is_inline_image(image_bytes(fmt="WEBP"))
    assert is_inline_image([Image.new("RGB", (4, 4))] * 2)
    assert not is_inline_image(np.eye(3))  # a matrix is data
    assert not is_inline_image(np.full((4, 4, 3), 7.0))  # not in [0, 1]
    assert not is_inline_image(b"plain bytes")
    assert not is_inline_image(Path("photo.jpg")) and not is_inline_image("photo.jpg")
    assert not is_inline_image([])


def test_elide_cuts_base64_and_keeps_everything_else() -> None:
    url = "data:image/png;base64," + "A" * 40_000
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    short = elide([message])
    assert short[0]["content"][0]["image_url"]["url"] == "data:image/png;base64,…(29 KB)"
    assert message["content"][0]["image_url"]["url"] == url  # the original is untouched
    plain = [{"role": "user", "content": "hi"}]
    assert elide(plain) is plain


def test_result_and_request_reprs_never_show_base64() -> None:
    url = "data:image/png;base64," + "A" * 40_000
    parts = [{"type": "image_url", "image_url": {"url": url}}]
    result = Result(text="ok", messages=[{"role": "user", "content": parts}])
    assert "…(29 KB)" in str(result.messages) and not BASE64_RUN.search(repr(result))
    request = Request(
        prompt="p",
        model="qwen3.5-plus",
        api="chat",
        base_url="http://x",
        api_key="k",
        history=[{"role": "user", "content": parts}],
        media=[Media("image", "{x}", url=url, size=(3, 4))],
    )
    assert not BASE64_RUN.search(repr(request)) and "<image {x} · 3×4>" in repr(request)


def test_pillow_and_numpy_load_only_when_media_is_used() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from qwen_magic.testing import Emulator\n"
        "import qwen_magic\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'qwen_magic')\n"
        "qwen_magic.ipython.magics_of(ip).use_emulator(Emulator().start())\n"
        "ip.user_ns['x'] = [1, 2]\n"
        "for api in ('chat', 'responses', 'dashscope'):\n"
        "    ip.run_cell_magic('qwen', f'-q --api {api}', 'Sum {x}')\n"
        "assert ip.user_ns['_qwen'].text == 'Echo: Sum [1, 2]'\n"
        "print(sorted(m for m in ('PIL', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
