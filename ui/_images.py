"""Product and upload photos as small JPEG `data:` URLs.

Embedding thumbnails keeps the page self-contained: no local path reaches the browser, no
`allowed_paths` has to open catalog folders to Gradio's file server, and it works the same when
the app is mounted under another path or shared. A card photo is ~10 KB at 320 px.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from assistant import ImageRejected, load_image

log = logging.getLogger(__name__)
THUMBNAIL_PX = 320
JPEG_QUALITY = 82


def thumbnail_data_url(source: str | Path | bytes, size: int = THUMBNAIL_PX) -> str | None:
    """A JPEG data URL of at most `size` px per side, or None for an unreadable image.

    Decoding goes through `retrieval.load_image`, which bounds bytes and pixels (uploads are
    untrusted) and turns EXIF-rotated photos upright."""
    try:
        image = load_image(source)
    except (ImageRejected, OSError) as exc:
        log.info(
            "no thumbnail for %s: %s", source if not isinstance(source, bytes) else "upload", exc
        )
        return None
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Thumbnails:
    """Catalog thumbnails, cached by path and modification time (an LRU, thread-safe)."""

    def __init__(self, capacity: int = 1024, size: int = THUMBNAIL_PX) -> None:
        self.capacity, self.size = capacity, size
        self._cache: OrderedDict[tuple[str, int], str | None] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, path: str | None) -> str | None:
        if not path:
            return None
        try:
            key = (path, Path(path).stat().st_mtime_ns)
        except OSError:
            return None
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        url = thumbnail_data_url(path, self.size)
        with self._lock:
            self._cache[key] = url
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return url
