"""Trust first (issue 12): the chat opens no file but Gradio's uploads, request bodies are
bounded on every route, image decoding is bounded in memory, and every answer carries the
security headers. Driven over the real server's Gradio queue where it matters."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LUMA_IMAGES, png_chunk
from PIL import Image

import retrieval._image_encoders as image_loader
from assistant import MAX_MESSAGE_CHARS, Assistant
from retrieval import ImageRejected, load_image
from retrieval._image_encoders import MAX_DECODED_PIXELS, MAX_SIDE
from ui._html import message_html
from ui._middleware import CONTENT_SECURITY_POLICY
from ui._shop import Shop
from ui._uploads import REFUSED, UploadRefused, Uploads
from ui.app import BODY_BYTES, UPLOAD_BODY_BYTES

PHOTO = LUMA_IMAGES / "m" / "h" / "mh01-gray_main.jpg"


def big_png(width: int, height: int) -> bytes:
    """A real, fully decodable grey PNG of `width` x `height` that compresses to almost
    nothing (39.7 MP in ~120 KB): small to upload, huge to decode."""
    row = b"\0" + b"\x80" * (width * 3)
    packer = zlib.compressobj(9)
    idat = b"".join([packer.compress(row) for _ in range(height)] + [packer.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakRss:
    """Samples this process's resident memory every few ms while in use."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.003)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss_mb()

    @property
    def grew(self) -> float:
        return self.peak - self.base


# Uploads: the unit ------------------------------------------------------------------------------
@pytest.fixture
def disk(tmp_path: Path) -> dict[str, Path]:
    """An upload folder with a real upload, and files around it a crafted payload could name."""
    root = tmp_path / "gradio"
    (root / "abc123").mkdir(parents=True)
    upload = root / "abc123" / "photo.jpg"
    upload.write_bytes(PHOTO.read_bytes())
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(PHOTO.read_bytes())
    secret = tmp_path / "secret.key"
    secret.write_text("root only")
    secret.chmod(0o600)
    link = root / "abc123" / "link.jpg"
    link.symlink_to(outside)
    dir_link = root / "etc"
    dir_link.symlink_to("/etc")
    return {"root": root, "upload": upload, "outside": outside, "secret": secret, "link": link}


class TestUploads:
    def test_an_upload_in_the_folder_and_bytes_are_accepted(self, disk):
        uploads = Uploads([disk["root"]])
        path = str(disk["upload"])
        assert uploads.accept({"path": path, "meta": {"_type": "gradio.FileData"}}) == path
        assert uploads.accept({"path": path}) == path and uploads.accept(path) == path
        assert uploads.accept(b"\x89PNG") == b"\x89PNG"
        assert uploads.accept(None) is None and uploads.accept("") is None

    def test_every_other_path_gets_the_same_refusal(self, disk, tmp_path):
        uploads = Uploads([disk["root"]])
        root = disk["root"]
        crafted = [
            disk["outside"],  # an image elsewhere on disk
            disk["secret"],  # a 0600 file
            tmp_path / "missing.jpg",  # nothing there
            disk["link"],  # a link in the upload folder pointing out
            root / "etc" / "hostname",  # a folder link pointing out
            root / "abc123" / ".." / ".." / "elsewhere.jpg",  # climbing out
            root / "abc123",  # a folder in the upload folder
            root,  # the folder itself
            root / "abc123" / "missing.jpg",  # nothing there, inside
            Path("/etc/passwd"),
            Path("photo.jpg"),  # relative: not under the folder
        ]
        messages = set()
        for path in crafted:
            for payload in (str(path), {"path": str(path)}, {"path": str(path), "meta": {}}):
                with pytest.raises(UploadRefused) as refused:
                    uploads.accept(payload)
                messages.add(str(refused.value))
        for payload in ({"url": "http://x/y.jpg"}, {"path": None}, {"path": 3}, ["x"], 7, "a\0b"):
            with pytest.raises(UploadRefused) as refused:
                uploads.accept(payload)
            messages.add(str(refused.value))
        assert messages == {REFUSED}

    def test_nothing_is_opened_to_decide(self, disk, tmp_path, monkeypatch):
        uploads = Uploads([disk["root"]])
        opened: list[object] = []

        def no_open(*args: object, **kwargs: object) -> None:
            opened.append(args[0])
            raise AssertionError("opened a file")

        monkeypatch.setattr("builtins.open", no_open)
        monkeypatch.setattr(os, "open", no_open)
        monkeypatch.setattr(io, "open", no_open)
        assert uploads.accept(str(disk["upload"])) == str(disk["upload"])
        for path in (disk["outside"], disk["secret"], disk["link"], tmp_path / "missing"):
            with pytest.raises(UploadRefused):
                uploads.accept(str(path))
        assert opened == []

    def test_a_symlinked_upload_folder_still_works(self, disk, tmp_path):
        alias = tmp_path / "alias"
        alias.symlink_to(disk["root"])
        uploads = Uploads([alias])
        real = str(disk["upload"])
        assert uploads.accept(str(alias / "abc123" / "photo.jpg")) == real
        assert uploads.accept(real) == real
        with pytest.raises(UploadRefused):
            uploads.accept(str(alias / "abc123" / "link.jpg"))


# Over the real server's queue ------------------------------------------------------------------
class Queue:
    """Raw Gradio queue calls (`/gradio_api/queue/join` + `/queue/data`), as a crafted client
    would make them."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        config = http.get("/config").json()
        turn = next(d for d in config["dependencies"] if d["api_name"] == "on_turn")
        self.fn_index, self.trigger = turn["id"], turn["targets"][0][0]

    def turn(self, text: str, photo: Any = None, audio: Any = None) -> dict[str, Any]:
        """The final queue message of one turn in a new browser session."""
        session = uuid.uuid4().hex
        joined = self.http.post(
            "/gradio_api/queue/join",
            json={
                "data": [text, photo, audio, None],
                "fn_index": self.fn_index,
                "trigger_id": self.trigger,
                "session_hash": session,
                "event_data": None,
            },
        )
        assert joined.status_code == 200, joined.text
        params = {"session_hash": session}
        with self.http.stream("GET", "/gradio_api/queue/data", params=params) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
        raise AssertionError("the queue closed before the turn completed")

    def upload(self, name: str, data: bytes) -> str:
        answer = self.http.post("/gradio_api/upload", files={"files": (name, data)})
        assert answer.status_code == 200, answer.text
        (path,) = answer.json()
        return path


def chat(message: dict[str, Any]) -> list[str]:
    """The chat bubbles' text (HTML) of a completed turn."""
    assert message["success"], message
    history = message["output"]["data"][0]
    return [part["text"] for bubble in history for part in bubble["content"]]


def outcome(message: dict[str, Any]) -> tuple[Any, ...]:
    """A completed turn as comparable values: its chat bubbles, or Gradio's error."""
    return tuple(chat(message)) if message["success"] else ("error", str(message["output"]))


def file_data(path: str | Path) -> dict[str, Any]:
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


@pytest.fixture(scope="module")
def queue(client: httpx.Client) -> Queue:
    return Queue(client)


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Files a crafted payload could name: an image elsewhere, a 0600 file, a missing path, and
    a symlink inside Gradio's upload folder pointing at the image outside."""
    import gradio

    image = tmp_path / "private.jpg"
    image.write_bytes(PHOTO.read_bytes())
    secret = tmp_path / "secret.key"
    secret.write_text("root only")
    secret.chmod(0o600)
    folder = Path(gradio.utils.get_upload_folder()) / f"planted-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    link = folder / "photo.jpg"
    link.symlink_to(image)
    try:
        yield {"image": image, "secret": secret, "missing": tmp_path / "none.jpg", "link": link}
    finally:
        link.unlink()
        folder.rmdir()


class TestUploadsOverTheQueue:
    def test_crafted_photo_paths_get_one_identical_refusal(self, queue: Queue, planted):
        replies = {
            name: chat(queue.turn("like this", {"path": str(p)})) for name, p in planted.items()
        }
        first = replies["image"]
        assert all(reply == first for reply in replies.values()), replies
        assert first[0].startswith("📎") and "<img" not in first[0]
        assert "couldn&#x27;t use that file" in first[-1]

    def test_crafted_recording_paths_are_refused_alike(self, queue: Queue, planted):
        """Gradio itself refuses a recording payload without `meta`; with or without it, every
        path gets the same answer, and nothing reaches the speech model."""
        for payload in (lambda p: {"path": str(p)}, file_data, str):
            outcomes = {outcome(queue.turn("", None, payload(p))) for p in planted.values()}
            assert len(outcomes) == 1, outcomes
            assert "voice message" not in str(outcomes)
            assert "read that recording" not in str(outcomes)  # the speech model's refusal

    def test_with_gradio_file_meta_the_paths_are_refused_alike_too(self, queue: Queue, planted):
        """Gradio's own check runs on file objects with `meta`; nothing is read either way."""
        outcomes = []
        for path in planted.values():
            for photo, audio in ((file_data(path), None), (None, file_data(path))):
                message = queue.turn("like this", photo, audio)
                outcomes.append((message["success"], str(message["output"])))
                assert "data:image" not in json.dumps(message)
        assert len(set(outcomes)) == 1 and outcomes[0][0] is False

    def test_a_real_upload_still_finds_products(self, queue: Queue):
        path = queue.upload("hoodie.jpg", PHOTO.read_bytes())
        message = queue.turn("men's hoodies like this", file_data(path))
        bubbles = chat(message)
        assert bubbles[0].startswith('<img src="data:image/jpeg;base64,')
        assert bubbles[-1].startswith("Here are"), bubbles
        assert "data-product=" in json.dumps(message["output"]["data"][6])  # the cards

    def test_a_refused_upload_leaves_the_session_alone(self, assistant: Assistant):
        shop = Shop(assistant, stream_delay=0)
        *_, found = shop.turn(None, "men's hoodies")
        view = found.view
        state = assistant.state(view.session_id)
        before = ([c.id for c in state.shown], len(state.history), list(view.shelf))
        *_, refused = shop.refuse(view, "like this", REFUSED)
        state = assistant.state(view.session_id)
        assert ([c.id for c in state.shown], len(state.history), list(view.shelf)) == before
        assert refused.panels is None and refused.busy is False
        assert refused.history[-1]["content"] == message_html(REFUSED)


# Body limits -----------------------------------------------------------------------------------
class TestBodyLimits:
    def test_a_huge_message_through_the_queue_is_refused_and_the_server_serves_on(
        self, queue: Queue, client: httpx.Client
    ):
        body = {
            "data": ["x" * 3_000_000, None, None, None],
            "fn_index": queue.fn_index,
            "trigger_id": queue.trigger,
            "session_hash": uuid.uuid4().hex,
        }
        refused = client.post("/gradio_api/queue/join", json=body)
        assert refused.status_code == 413
        assert f"{BODY_BYTES} bytes" in refused.json()["detail"]
        assert chat(queue.turn("men's hoodies"))[-1].startswith("Here are")

    def test_a_chunked_body_is_cut_off_at_the_limit(self, client: httpx.Client):
        def chunks() -> Iterator[bytes]:  # no Content-Length
            for _ in range(50):
                yield b" " * 100_000

        headers = {"Content-Type": "application/json"}
        refused = client.post("/gradio_api/queue/join", content=chunks(), headers=headers)
        assert refused.status_code == 413 and "detail" in refused.json()

    def test_the_api_and_login_routes_are_bounded_too(self, client: httpx.Client):
        big = {"message": "x" * (BODY_BYTES + 1)}
        assert client.post("/api/v1/chat", json=big).status_code == 413
        assert client.post("/login", data={"username": "x" * BODY_BYTES}).status_code == 413

    def test_uploads_keep_their_own_bigger_limit(self, queue: Queue, client: httpx.Client):
        path = queue.upload("big.jpg", PHOTO.read_bytes() + b"\0" * 19_000_000)
        assert Path(path).stat().st_size > 19_000_000
        Path(path).unlink()
        over = b"\0" * UPLOAD_BODY_BYTES
        refused = client.post("/gradio_api/upload", files={"files": ("huge.jpg", over)})
        assert refused.status_code == 413 and "detail" in refused.json()

        def chunked() -> Iterator[bytes]:
            """Two files each under Gradio's own per-file limit, together over ours, sent
            without a Content-Length: cut off while streaming."""
            for name in ("a.jpg", "b.jpg"):
                yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="'
                yield name.encode() + b'"\r\n\r\n'
                for _ in range(110):
                    yield b"\0" * 100_000
                yield b"\r\n"
            yield b"--b--\r\n"

        headers = {"Content-Type": "multipart/form-data; boundary=b"}
        refused = client.post("/gradio_api/upload", content=chunked(), headers=headers)
        assert refused.status_code == 413 and "detail" in refused.json()

    def test_the_chat_echoes_at_most_the_message_limit(self, assistant: Assistant):
        *_, final = Shop(assistant, stream_delay=0).turn(None, "y" * 50_000)
        shown = final.history[0]["content"]
        assert len(shown) <= MAX_MESSAGE_CHARS + 1 and shown.endswith("…")
        *_, refused = Shop(assistant, stream_delay=0).refuse(None, "z" * 50_000, REFUSED)
        assert len(refused.history[0]["content"]) <= MAX_MESSAGE_CHARS + 20


# Image decoding --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def png_39mp() -> bytes:
    return big_png(7_300, 5_440)  # 39.7 MP: under the 40 MP header limit of old


class TestImageMemory:
    def test_a_39_megapixel_png_is_refused_before_decoding(self, png_39mp: bytes):
        assert len(png_39mp) < 200_000
        with PeakRss() as memory, pytest.raises(ImageRejected) as refused:
            load_image(png_39mp)
        assert "too large (7,300 x 5,440 pixels)" in str(refused.value)
        assert f"under {MAX_DECODED_PIXELS / 1e6:g} megapixels" in str(refused.value)
        assert memory.grew < 50

    def test_eight_at_once_through_the_assistant_stay_bounded(
        self, assistant: Assistant, png_39mp: bytes
    ):
        def send(_: int) -> str:
            return assistant.respond(f"mem-{uuid.uuid4().hex}", image=png_39mp).text

        with PeakRss() as memory, ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(send, range(8)))
        assert all("too large (7,300 x 5,440 pixels)" in reply for reply in replies), replies
        assert memory.grew < 300, memory.__dict__
        assert memory.after - memory.base < 100, memory.__dict__

    def test_eight_big_images_that_pass_stay_bounded_and_are_released(self):
        """Images at the limits decode (scaled down), two at a time on the decoder threads."""
        near_cap = big_png(4_900, 3_250)  # 15.9 MP, decoded at full size
        jpeg = io.BytesIO()
        Image.new("RGB", (6_000, 4_000), (180, 40, 40)).save(jpeg, "JPEG")
        for upload, size in ((near_cap, (MAX_SIDE, 1_358)), (jpeg.getvalue(), (MAX_SIDE, 1_365))):
            load_image(upload)  # the decoder threads' first use
            with PeakRss() as memory, ThreadPoolExecutor(8) as pool:
                sizes = {image.size for image in pool.map(load_image, [upload] * 8)}
            assert sizes == {size}
            assert memory.grew < 300, memory.__dict__
            assert memory.after - memory.base < 100, memory.__dict__

    def test_a_large_jpeg_is_decoded_scaled_down(self, monkeypatch):
        decoded: list[tuple[int, int]] = []
        shrink = image_loader._within_max_side

        def spy(image: Image.Image) -> Image.Image:
            decoded.append(image.size)
            return shrink(image)

        monkeypatch.setattr(image_loader, "_within_max_side", spy)
        jpeg = io.BytesIO()
        Image.new("RGB", (6_000, 4_000), (20, 90, 200)).save(jpeg, "JPEG", quality=90)
        image = load_image(jpeg.getvalue())
        assert decoded == [(3_000, 2_000)]  # the decoder's 1/2 scale, not 24 MP
        assert image.size == (2_048, 1_365) and image.mode == "RGB"
        r, g, b = image.getpixel((1_000, 700))
        assert abs(r - 20) < 8 and abs(g - 90) < 8 and abs(b - 200) < 8


# Security headers ------------------------------------------------------------------------------
class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/", "/config", "/api/v1/search?q=bag", "/no/such/page"])
    def test_every_answer_carries_them(self, client: httpx.Client, path: str):
        answer = client.get(path)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
        if path == "/no/such/page":
            assert answer.status_code == 404

    def test_the_policy_keeps_other_origins_out(self):
        rules = dict(rule.split(" ", 1) for rule in CONTENT_SECURITY_POLICY.split("; "))
        assert rules["default-src"] == "'self'" and rules["connect-src"] == "'self' blob:"
        assert rules["object-src"] == "'none'" and rules["frame-ancestors"] == "'self'"
        assert all("http" not in value and "*" not in value for value in rules.values())
