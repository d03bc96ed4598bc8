"""Builds the retrieval stack from settings: the one place that picks concrete classes.

Models load once per process; an optional model that cannot load here (CLIP without weights)
is reported and left out, and search keeps working without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from assistant.config import Settings
from retrieval import (
    CatalogIndexer,
    CatalogStore,
    ClipEncoder,
    ColourHistogramEncoder,
    EfficientNetImageEncoder,
    EmbeddingCache,
    EncoderUnavailable,
    HnswSettings,
    ImageEncoder,
    SearchEngine,
    SentenceTextEncoder,
    VectorIndex,
    load_image,
)

log = logging.getLogger(__name__)
NO_IMAGE_MODEL = "none"
EFFICIENTNET = "efficientnet-lite0"


@dataclass
class RetrievalStack:
    settings: Settings
    store: CatalogStore
    index: VectorIndex
    cache: EmbeddingCache
    text_encoder: SentenceTextEncoder
    image_encoder: ImageEncoder | None
    clip_encoder: ImageEncoder | None
    # Photo colours, fused with the photo model's ranking: on whenever photos are indexed.
    colour_encoder: ImageEncoder | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def indexer(self) -> CatalogIndexer:
        return CatalogIndexer(
            self.store,
            self.index,
            self.cache,
            self.text_encoder,
            image_encoder=self.image_encoder,
            clip_encoder=self.clip_encoder,
            load_image=load_image,
            colour_encoder=self.colour_encoder,
        )

    @cached_property
    def engine(self) -> SearchEngine:
        return SearchEngine(
            self.store,
            self.index,
            self.text_encoder,
            image_encoder=self.image_encoder,
            clip_encoder=self.clip_encoder,
            colour_encoder=self.colour_encoder,
            candidates=self.settings.search_candidates,
            catalog=self.settings.catalog,
        )


def open_store(settings: Settings) -> CatalogStore:
    return CatalogStore(settings.catalog_db)


def open_index(settings: Settings) -> VectorIndex:
    hnsw = HnswSettings(ef_search=settings.hnsw_ef_search)
    if settings.chroma_url:
        return VectorIndex(url=settings.chroma_url, hnsw=hnsw)
    return VectorIndex(path=settings.chroma_dir, hnsw=hnsw)


def build_retrieval(settings: Settings) -> RetrievalStack:
    warnings: list[str] = []
    image_encoder = _image_encoder(settings)
    clip_encoder = _clip_encoder(settings, warnings)
    return RetrievalStack(
        settings=settings,
        store=open_store(settings),
        index=open_index(settings),
        cache=EmbeddingCache(settings.embedding_cache),
        text_encoder=SentenceTextEncoder(settings.text_model),
        image_encoder=image_encoder,
        clip_encoder=clip_encoder,
        colour_encoder=colour_encoder(image_encoder, clip_encoder),
        warnings=warnings,
    )


def colour_encoder(
    image_encoder: ImageEncoder | None, clip_encoder: ImageEncoder | None
) -> ImageEncoder | None:
    """Photo colours are indexed whenever photos are: they cost no model."""
    return ColourHistogramEncoder() if image_encoder or clip_encoder else None


def _image_encoder(settings: Settings) -> ImageEncoder | None:
    if settings.image_model == NO_IMAGE_MODEL:
        return None
    if settings.image_model != EFFICIENTNET:
        raise ValueError(
            f"image_model {settings.image_model!r}: use {EFFICIENTNET!r} or {NO_IMAGE_MODEL!r}"
        )
    return EfficientNetImageEncoder()


def _clip_encoder(settings: Settings, warnings: list[str]) -> ImageEncoder | None:
    if not settings.clip_model:
        return None
    try:
        return ClipEncoder(
            settings.clip_model,
            pretrained=settings.clip_pretrained,
            checkpoint=settings.clip_checkpoint,
        )
    except EncoderUnavailable as exc:
        message = f"CLIP is off: {exc}"
        log.warning(message)
        warnings.append(message)
        return None
