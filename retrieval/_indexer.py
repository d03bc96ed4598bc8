"""Keeps the Chroma collections in step with the catalog store.

The store is the truth; collections are derived. A sync encodes only products and photos whose
content changed (embedding cache), upserts them, and deletes what left the catalog.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from retrieval._documents import product_document, product_metadata
from retrieval._encoders import ImageEncoder, TextEncoder
from retrieval._index import EmbeddingCache, Metadata, VectorIndex, file_key, text_key
from retrieval._model import Product
from retrieval._store import CatalogStore

if TYPE_CHECKING:
    from PIL.Image import Image


def collection_name(kind: str, encoder_name: str) -> str:
    """Chroma-safe, one collection per (kind, encoder), so switching models never mixes spaces."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", encoder_name).strip("-")[:60]
    return f"{kind}__{slug}"


@dataclass(slots=True)
class SyncStats:
    """What a sync did, per collection: encoded now, served from the cache, removed."""

    encoded: dict[str, int] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    unreadable_images: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class IndexItem:
    """One vector a collection should hold: its id, content key and filter metadata."""

    id: str
    key: str
    metadata: Metadata


class CatalogIndexer:
    """Encodes products (text) and their photos (image, CLIP, colours) into named collections."""

    def __init__(
        self,
        store: CatalogStore,
        index: VectorIndex,
        cache: EmbeddingCache,
        text_encoder: TextEncoder,
        image_encoder: ImageEncoder | None = None,
        clip_encoder: ImageEncoder | None = None,
        load_image: Callable[[Path], Image] | None = None,
        colour_encoder: ImageEncoder | None = None,
    ) -> None:
        if (image_encoder or clip_encoder or colour_encoder) and load_image is None:
            raise ValueError("image encoders need a load_image function")
        self.store = store
        self.index = index
        self.cache = cache
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.clip_encoder = clip_encoder
        self.colour_encoder = colour_encoder
        self.load_image = load_image

    @property
    def text_collection(self) -> str:
        return collection_name("text", self.text_encoder.name)

    @property
    def image_collection(self) -> str | None:
        return collection_name("image", self.image_encoder.name) if self.image_encoder else None

    @property
    def clip_collection(self) -> str | None:
        return collection_name("clip", self.clip_encoder.name) if self.clip_encoder else None

    @property
    def colour_collection(self) -> str | None:
        encoder = self.colour_encoder
        return collection_name("colour", encoder.name) if encoder else None

    def sync(self, *, progress: bool = True) -> SyncStats:
        started = time.perf_counter()
        stats = SyncStats()
        products = self.store.products()
        documents = {p.id: product_document(p) for p in products}
        self._sync_collection(
            self.text_collection,
            text_items(products, documents),
            lambda items: self.text_encoder.encode_texts([documents[i.id] for i in items]),
            self.text_encoder.name,
            stats,
            progress,
        )
        photos, paths, stats.unreadable_images = image_items(products)
        for name, encoder in (
            (self.image_collection, self.image_encoder),
            (self.clip_collection, self.clip_encoder),
            (self.colour_collection, self.colour_encoder),
        ):
            if name and encoder:
                self._sync_collection(
                    name,
                    photos,
                    lambda items, enc=encoder: self._encode_images(
                        enc, [paths[i.id] for i in items]
                    ),
                    encoder.name,
                    stats,
                    progress,
                )
        changed = sum(stats.encoded.values()) + sum(stats.cached.values())
        if changed + sum(stats.removed.values()):
            self.store.bump_index_version()  # running servers reload the vectors
        stats.seconds = round(time.perf_counter() - started, 2)
        return stats

    def _encode_images(self, encoder: ImageEncoder, paths: Sequence[Path]) -> np.ndarray:
        assert self.load_image is not None
        return encoder.encode_images([self.load_image(p) for p in paths])

    def _sync_collection(
        self,
        name: str,
        items: list[IndexItem],
        encode: Callable[[list[IndexItem]], np.ndarray],
        encoder_name: str,
        stats: SyncStats,
        progress: bool,
    ) -> None:
        stored = self.index.stored(name)
        wanted = {item.id for item in items}
        stale = [i for i in stored if i not in wanted]
        self.index.delete(name, stale)
        stats.removed[name] = len(stale)
        changed = [item for item in items if not is_current(stored.get(item.id), item)]
        encoded = 0
        batch = 64
        bar = tqdm(total=len(changed), desc=f"indexing {name}", unit="item", disable=not progress)
        for start in range(0, len(changed), batch):
            chunk = changed[start : start + batch]
            keys = [item.key for item in chunk]
            vectors, computed = self.cache.encode(
                encoder_name, keys, lambda idx, c=chunk: encode([c[i] for i in idx])
            )
            encoded += computed
            metadatas = [{**item.metadata, "content_key": item.key} for item in chunk]
            self.index.upsert(name, [item.id for item in chunk], vectors, metadatas)
            bar.update(len(chunk))
        bar.close()
        stats.encoded[name] = encoded
        stats.cached[name] = len(changed) - encoded


def text_items(
    products: Sequence[Product], documents: dict[str, str] | None = None
) -> list[IndexItem]:
    """One item per product, keyed by the hash of the text the encoder reads."""
    documents = documents or {p.id: product_document(p) for p in products}
    return [IndexItem(p.id, text_key(documents[p.id]), product_metadata(p)) for p in products]


def image_items(
    products: Sequence[Product],
) -> tuple[list[IndexItem], dict[str, Path], list[str]]:
    """One item per readable photo (`PRODUCT_ID#n`, keyed by the file's hash), their paths, and
    the photo paths that cannot be read (they are skipped, not indexed)."""
    items: list[IndexItem] = []
    paths: dict[str, Path] = {}
    unreadable: list[str] = []
    for product in products:
        for number, image in enumerate(product.images):
            path = Path(image.path)
            try:
                key = file_key(path)
            except OSError:
                unreadable.append(image.path)
                continue
            item_id = f"{product.id}#{number}"
            metadata: Metadata = {
                "product_id": product.id,
                "role": str(image.role),
                "path": image.path,
                "catalog": product.catalog,
            }
            items.append(IndexItem(item_id, key, metadata))
            paths[item_id] = path
    return items, paths, unreadable


def is_current(stored: Metadata | None, item: IndexItem) -> bool:
    """Whether a stored vector's metadata says it was made from this item's current content
    (same content key, same filter metadata): what sync skips and `shopassist doctor` checks."""
    if stored is None or stored.get("content_key") != item.key:
        return False
    return {k: v for k, v in stored.items() if k != "content_key"} == item.metadata
