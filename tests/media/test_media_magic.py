"""``%%qwen -i/--video`` and image-valued ``{name}`` through the three APIs, against the emulator:
the exact content parts each protocol receives, thumbnails live and in the saved output, chats
that keep earlier images, and every bad source refused before any request.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from qwen_magic.testing import Reply

APIS = ("chat", "responses", "dashscope")
URL = "https://example.invalid/cat.png"  # never fetched: the emulator and the browser only


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_part(api: str, url: str) -> dict:
    if api == "chat":
        return {"type": "image_url", "image_url": {"url": url}}
    if api == "responses":
        return {"type": "input_image", "image_url": url}
    return {"image": url}


def text_part(api: str, text: str) -> dict:
    if api == "chat":
        return {"type": "text", "text": text}
    if api == "responses":
        return {"type": "input_text", "text": text}
    return {"text": text}


def url_of(api: str, part: dict) -> str:
    if api == "chat":
        return part["image_url"]["url"]
    return part["image_url"] if api == "responses" else part["image"]


def pixels(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.fixture(autouse=True)
def _default_config(shell):
    """Start from the default configuration (a ``%config`` in another test outlives it)."""
    saved = shell.config.pop("QwenMagics", None)
    yield
    if saved is not None:
        shell.config.QwenMagics = saved


@pytest.fixture
def photo(tmp_path, monkeypatch) -> bytes:
    """``photo.jpg`` in the working directory; returns its bytes."""
    monkeypatch.chdir(tmp_path)
    noise(320, 240).save(tmp_path / "photo.jpg", quality=80)
    return (tmp_path / "photo.jpg").read_bytes()


def run(ip, line: str, prompt: str = "What is this?"):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, prompt)
    return cap


def user_content(emulator) -> list:
    return emulator.last.messages[-1]["content"]


# -- the parts each protocol receives -----------------------------------------------------------
@pytest.mark.parametrize("api", APIS)
def test_a_file_and_a_pil_image_on_every_api(ip, magics, emulator, photo, api) -> None:
    """The issue's "done when": ``-i photo.jpg -i {fig}`` sends both images correctly."""
    magics.display = "final"
    fig = noise(40, 30, seed=2)
    ip.user_ns["fig"] = fig
    run(ip, f"--api {api} -i photo.jpg -i {{fig}}")
    first, second, text = user_content(emulator)
    assert first == image_part(api, "data:image/jpeg;base64," + b64(photo))
    assert url_of(api, second).startswith("data:image/png;base64,")
    assert np.array_equal(pixels(url_of(api, second)), np.asarray(fig))
    assert text == text_part(api, "What is this?")
    if api == "dashscope":
        assert emulator.last.protocol == "native-multimodal"
        assert not any(r.protocol in ("uploads", "oss-upload") for r in emulator.requests)
    assert ip.user_ns["_qwen"].error is None


@pytest.mark.parametrize("api", APIS)
def test_each_kind_of_source(ip, magics, emulator, photo, tmp_path, api) -> None:
    magics.display = "none"
    png = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(png, format="PNG")
    (tmp_path / "shots").mkdir()
    for n in (10, 2):
        (tmp_path / "shots" / f"s{n}.png").write_bytes(png.getvalue())
    ip.user_ns.update(
        arr=np.full((20, 30, 3), 255, np.uint8),
        floats=np.full((20, 30), 0.5),
        raw=png.getvalue(),
        path=tmp_path / "photo.jpg",
        several=[Image.new("L", (30, 20)), URL],
    )
    sources = ["{arr}", "{floats}", "{raw}", "{path}", "{several}", URL, "'shots/*.png'"]
    run(ip, f"--api {api} " + " ".join(f"-i {s}" for s in sources))
    parts = user_content(emulator)
    urls = [url_of(api, p) for p in parts[:-1]]
    assert len(urls) == 9 and parts[-1] == text_part(api, "What is this?")
    assert (pixels(urls[0]) == 255).all() and pixels(urls[0]).shape == (20, 30, 3)
    assert (pixels(urls[1]) == 128).all() and pixels(urls[1]).shape == (20, 30)
    assert urls[2] == urls[7] == urls[8] == "data:image/png;base64," + b64(png.getvalue())
    assert urls[3] == "data:image/jpeg;base64," + b64(photo)
    assert urls[4].startswith("data:image/png;base64,") and pixels(urls[4]).shape == (20, 30)
    assert urls[5] == urls[6] == URL
    result = ip.user_ns["_qwen"]
    assert [m.source for m in result.media][-2:] == ["shots/s2.png", "shots/s10.png"]


@pytest.mark.parametrize("api", APIS)
def test_images_in_the_prompt_keep_their_place(ip, magics, emulator, api) -> None:
    magics.display = "none"
    a, b = Image.new("RGB", (30, 30), "red"), np.zeros((30, 30, 3), np.uint8)
    ip.user_ns.update(a=a, b=b, n=2)
    run(ip, f"--api {api}", "Compare {a} with {b}: which of the {n} is red?")
    parts = user_content(emulator)
    assert [p.get("type", next(iter(p))) for p in parts] == (
        {
            "chat": ["text", "image_url", "text", "image_url", "text"],
            "responses": ["input_text", "input_image", "input_text", "input_image", "input_text"],
            "dashscope": ["text", "image", "text", "image", "text"],
        }[api]
    )
    assert parts[0] == text_part(api, "Compare")
    assert parts[2] == text_part(api, "with")
    assert parts[4] == text_part(api, ": which of the 2 is red?")
    assert (pixels(url_of(api, parts[1]))[0, 0] == (255, 0, 0)).all()
    assert ip.user_ns["_qwen"].text == "Echo: Compare with : which of the 2 is red?"


def test_raw_leaves_braces_and_images_alone(ip, magics, emulator) -> None:
    magics.display = "none"
    ip.user_ns["a"] = Image.new("RGB", (30, 30))
    run(ip, "--raw", "Look at {a}")
    assert user_content(emulator) == "Look at {a}"


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_video_files_urls_and_frames(ip, magics, emulator, tmp_path, monkeypatch, api) -> None:
    magics.display = "none"
    monkeypatch.chdir(tmp_path)
    mp4 = b"\x00\x00\x00\x18ftypmp42" + bytes(200)
    (tmp_path / "clip.mp4").write_bytes(mp4)
    frames = [noise(64, 48, seed=i) for i in range(4)]
    ip.user_ns["frames"] = frames
    video_url = "https://example.invalid/cat.mp4"
    run(ip, f"--api {api} --video clip.mp4 --video {video_url} --video {{frames}}", "Describe.")
    file_part, url_part, frames_part, text = user_content(emulator)
    inline = "data:video/mp4;base64," + b64(mp4)
    if api == "chat":
        assert file_part == {"type": "video_url", "video_url": {"url": inline}}
        assert url_part == {"type": "video_url", "video_url": {"url": video_url}}
        assert frames_part["type"] == "video"
        sent = frames_part["video"]
    else:
        assert (file_part, url_part) == ({"video": inline}, {"video": video_url})
        assert list(frames_part) == ["video"]
        sent = frames_part["video"]
        assert emulator.last.protocol == "native-multimodal"
    assert len(sent) == 4 and all(u.startswith("data:image/png;base64,") for u in sent)
    assert np.array_equal(pixels(sent[3]), np.asarray(frames[3]))
    assert text == text_part(api, "Describe.")


def test_a_text_model_with_images_goes_to_multimodal_generation(ip, magics, emulator) -> None:
    magics.display = "none"
    ip.user_ns["a"] = Image.new("RGB", (30, 30))
    run(ip, "--api dashscope -m qwen-plus -i {a}")
    assert emulator.last.protocol == "native-multimodal"


def test_an_image_at_the_services_limit_is_accepted(ip, magics, emulator) -> None:
    """A picture whose PNG would be ~21 MB is downscaled under 10 MB per data URI: the
    emulator, which rejects bigger items with the service's error, answers."""
    magics.display = "none"
    ip.user_ns["big"] = noise(3000, 2400, seed=3)
    run(ip, "-i {big}")
    result = ip.user_ns["_qwen"]
    assert result.error is None and result.text == "Echo: What is this?"
    assert len(url_of("chat", user_content(emulator)[0])) <= 10_485_760


# -- what the user sees -------------------------------------------------------------------------
def thumbnails(markdown: str) -> list[str]:
    return re.findall(r'<img src="data:image/jpeg;base64,([^"]+)"', markdown)


@pytest.mark.parametrize("api", APIS)
def test_static_output_carries_small_thumbnails(ip, magics, emulator, photo, api) -> None:
    magics.display = "final"
    ip.user_ns["fig"] = noise(1600, 1200, seed=4)
    cap = run(ip, f"--api {api} -i photo.jpg -i {{fig}} -i {URL}")
    (output,) = cap.outputs
    md = output.data["text/markdown"]
    thumbs = thumbnails(md)
    assert len(thumbs) == 2
    assert all(len(t) < 8000 for t in thumbs)  # a few KB per image in the saved notebook
    assert all(max(Image.open(io.BytesIO(base64.b64decode(t))).size) <= 128 for t in thumbs)
    assert f'<a href="{URL}"><img src="{URL}" alt="{URL}"' in md  # shown from its URL
    assert 'alt="photo.jpg" title="photo.jpg · 320×240"' in md
    assert 'title="{fig} · 1600×1200"' in md
    assert f"<sub>1: photo.jpg · 2: {{fig}} · 3: {URL}</sub>" in md
    assert md.index("<img") < md.index("Echo: What is this?")  # inputs before the answer
    assert len(md) < 2 * 8000 + 2000  # no full-size image in the saved output
    plain = output.data["text/plain"]
    assert plain.startswith(f"[inputs: photo.jpg · 320×240, {{fig}} · 1600×1200, {URL}]")


def test_live_view_shows_thumbnails_before_the_answer(ip, magics, emulator, photo, comms) -> None:
    ip.user_ns["fig"] = Image.new("RGB", (64, 64), "blue")
    emulator.queue(Reply(text="Two pictures.", reasoning="", chunks=3))
    cap = run(ip, f"--no-think -i photo.jpg -i {{fig}} -i {URL} --video {URL}.mp4")
    opened = [d["state"] for t, d in comms.messages if t == "comm_open"]
    images = [s for s in opened if s.get("_model_name") == "ImageModel"]
    assert [s["format"] for s in images] == ["jpeg", "jpeg"]
    assert all(s.get("tooltip") is None for s in images)  # ImageView fails on a tooltip
    html = [s.get("value", "") for s in opened if s.get("_model_name") == "HTMLModel"]
    assert f'<img src="{URL}"' in "".join(html)  # the browser shows a URL image itself
    assert "🎞 https://example.invalid/cat.png.mp4 · video" in "".join(html)
    captions = [v for v in html if v.startswith("<small title=")]
    assert captions[:2] == [
        '<small title="photo.jpg · 320×240">photo.jpg</small>',
        '<small title="{fig} · 64×64">{fig}</small>',
    ]
    assert "application/vnd.jupyter.widget-view+json" in cap.outputs[0].data
    final = cap.outputs[-1].data["text/markdown"]
    assert len(thumbnails(final)) == 2 and "Two pictures." in final


# -- chats and results --------------------------------------------------------------------------
@pytest.mark.parametrize("api", APIS)
def test_a_follow_up_sees_the_earlier_images(ip, magics, emulator, photo, api) -> None:
    magics.display = "none"
    fig = Image.new("RGB", (30, 30), "red")
    ip.user_ns["fig"] = fig
    first_cell = f"%%qwen --api {api} -c album -i photo.jpg -i {{fig}}\nTwo photos."
    with capture_output():
        ip.run_cell(first_cell, cell_id="a").raise_error()
        ip.run_cell(f"%%qwen --api {api} -c album\nThe second image?", cell_id="b").raise_error()
    earlier, answer, follow_up = emulator.last.messages
    first, second, text = earlier["content"]
    assert first == image_part(api, "data:image/jpeg;base64," + b64(photo))
    assert (pixels(url_of(api, second))[0, 0] == (255, 0, 0)).all()
    assert text == text_part(api, "Two photos.")
    assert answer["role"] == "assistant"
    assert follow_up["content"] in ("The second image?", [{"text": "The second image?"}])
    turn = magics.chats.get("album").turns[0]
    assert turn.user["content"][0]["image_url"]["url"] == "data:image/jpeg;base64," + b64(photo)


def test_result_messages_and_reprs_elide_base64(ip, magics, emulator, photo) -> None:
    magics.display = "none"
    run(ip, "-o r -i photo.jpg")
    r = ip.user_ns["r"]
    url = r.messages[-1]["content"][0]["image_url"]["url"]
    assert re.fullmatch(r"data:image/jpeg;base64,…\(\d+ KB\)", url)
    long_base64 = re.compile(r"[A-Za-z0-9+/]{200,}")
    assert not long_base64.search(repr(r)) and not long_base64.search(str(r.messages))
    assert "<image photo.jpg · 320×240>" in repr(r)


def test_the_responses_api_refuses_video_up_front(ip, emulator) -> None:
    with pytest.raises(UsageError, match="The Responses API takes no video"):
        ip.run_cell_magic("qwen", f"--api responses --video {URL}.mp4", "Describe.")
    assert emulator.requests == []


def test_a_chat_holding_video_cannot_continue_on_the_responses_api(ip, magics, emulator) -> None:
    magics.display = "none"
    with capture_output():
        ip.run_cell(f"%%qwen -c v --video {URL}.mp4\nDescribe.", cell_id="v1")
    emulator.clear()
    with pytest.raises(UsageError, match="The Responses API takes no video"):
        ip.run_cell_magic("qwen", "--api responses -c v", "And then?")
    assert emulator.requests == []


# -- validation before any request --------------------------------------------------------------
@pytest.fixture
def bad_sources(tmp_path, monkeypatch, ip):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    good = io.BytesIO()
    noise(200, 200).save(good, format="JPEG")
    (tmp_path / "broken.jpg").write_bytes(good.getvalue()[:400])
    ip.user_ns.update(
        config={"a": 1},
        many=[Image.new("RGB", (30, 30))] * 51,
        few=[Image.new("RGB", (30, 30))] * 3,
        lots=[Image.new("RGB", (30, 30))] * 81,
        hot=np.full((8, 8, 3), 3.5),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-i missing.jpg", r"-i missing\.jpg is not a file \(looked in "),
        ("-i broken.jpg", r"-i broken\.jpg could not be decoded .*corrupt"),
        ("-i notes.txt", r"-i notes\.txt is not an image Pillow can read: convert it"),
        ("-i 'shots/*.png'", r"-i shots/\*\.png matched no files"),
        ("-i {config}", r"-i \{config\} is a dict: an image is a PIL image"),
        ("-i {nothing}", r"-i \{nothing\} names 'nothing', which is not defined"),
        ("-i {hot}", r"-i \{hot\} is a float array with values in \[3\.5, 3\.5\]"),
        ("-i {many}", r"51 images in one prompt is too many \(at most 50\)"),
        ("--video {few}", r"--video \{few\} has 3 frames: a video needs at least 4"),
        ("--video {lots}", r"--video \{lots\} has 81 frames; qwen3\.5-plus takes 4 to 80"),
        ("--video notes.txt", r"--video notes\.txt is not a video format"),
    ],
)
def test_bad_sources_send_nothing(ip, emulator, bad_sources, line, message) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("qwen", line, "What is this?")
    assert emulator.requests == []


def test_frame_limit_follows_the_model(ip, magics, emulator, bad_sources) -> None:
    magics.display = "none"
    run(ip, "-m qwen3-vl-plus --video {lots}", "Describe.")
    assert len(user_content(emulator)[0]["video"]) == 81


def test_an_image_alone_needs_no_text(ip, magics, emulator) -> None:
    magics.display = "none"
    ip.user_ns["a"] = Image.new("RGB", (30, 30))
    with capture_output():
        ip.run_line_magic("qwen", "-i {a}")
    assert [p["type"] for p in user_content(emulator)] == ["image_url"]
    with pytest.raises(UsageError, match="The prompt is empty"):
        ip.run_line_magic("qwen", "-m qwen-plus")


# -- a saved notebook ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_saved_notebook_keeps_small_thumbnails_only(emulator, tmp_path, monkeypatch) -> None:
    """A real kernel (live view, the cell run as a coroutine), saved by nbclient: both inputs
    are in the saved notebook as thumbnails of a few KB, and no full-size image is."""
    import nbformat
    from nbclient import NotebookClient

    noise(1200, 900, seed=5).save(tmp_path / "photo.jpg", quality=90)
    setup = (
        "import numpy as np\n"
        "from PIL import Image\n"
        "fig = Image.fromarray(np.random.default_rng(6).integers(0, 256, (600, 800, 3), "
        "dtype=np.uint8))\n"
        "%load_ext qwen_magic\n"
        '%config QwenMagics.display = "live"\n'  # nbclient alone would get the static output
        f"%config QwenMagics.base_url = {emulator.compat_base!r}"
    )
    ask = "%%qwen -c album -i photo.jpg -i {fig}\nWhat changed?"
    follow_up = "%%qwen -c album\nAnd in the second image?"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (setup, ask, follow_up)]
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = [o for o in nb.cells[1].outputs if o.get("output_type") == "display_data"]
    md = outputs[-1]["data"]["text/markdown"]
    thumbs = thumbnails(md)
    assert len(thumbs) == 2 and all(len(t) < 8000 for t in thumbs)
    assert "Echo: What changed?" in md
    saved = nbformat.writes(nb)
    assert re.findall(r"[A-Za-z0-9+/]{8000,}", saved) == []  # the photo is ~900 KB in base64
    widgets = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    images = [w for w in widgets.values() if w["model_name"] == "ImageModel"]
    assert all(len(b.get("data", "")) == 0 for w in images for b in w.get("buffers", []))
    first, answer, again = emulator.last.messages[-3:]
    assert len(first["content"]) == 3 and first["content"][2]["text"] == "What changed?"
    assert again["content"] == "And in the second image?"


# -- {expr} in -i/--video reads data; code runs only with the opt-in ----------------------------
def test_media_expressions_read_data_and_run_code_only_with_eval(ip, magics, emulator) -> None:
    calls = []

    def make() -> Image.Image:
        calls.append(1)
        return Image.new("RGB", (30, 30), "green")

    ip.user_ns.update(make=make, pics={"a": [Image.new("RGB", (30, 30))] * 2})
    with pytest.raises(UsageError, match=r"-i \{make\(\)\} runs code .* pass --eval"):
        ip.run_cell_magic("qwen", "-i {make()}", "What is this?")
    with pytest.raises(UsageError, match=r"-i \{__import__\('os'\)\.getcwd\(\)\} runs code"):
        ip.run_cell_magic("qwen", "-i \"{__import__('os').getcwd()}\"", "What is this?")
    with pytest.raises(UsageError, match=r"--video \{exit\(\)\} calls exit\(\) or quit\(\)"):
        ip.run_cell_magic("qwen", "--eval --video {exit()}", "What is this?")
    assert calls == [] and emulator.requests == [] and ip.exit_now is False

    magics.display = "none"
    run(ip, "-i \"{pics['a'][0]}\" -i \"{pics['a'][1:]}\"")
    assert len(user_content(emulator)) == 3  # two images and the text
    run(ip, "--eval -i {make()}")
    assert calls == [1] and len(emulator.requests) == 2
