"""Catalog model, ingestion and cleaning, the catalog store, encoders, the Chroma index and the
search engine.

The public surface is re-exported here; modules with a leading underscore are private.
"""

from typing import Any

from retrieval._cleaning import Cleaner, CleaningConfig, TagRule, html_to_text
from retrieval._doctor import (
    DoctorReport,
    ProblemKind,
    check_catalog,
    check_server,
    index_unreadable,
    store_damaged,
)
from retrieval._documents import tokenize
from retrieval._encoders import (
    DEFAULT_TEXT_MODEL,
    EncoderUnavailable,
    ImageEncoder,
    SentenceTextEncoder,
    TextEncoder,
    normalise_rows,
)
from retrieval._facets import same_noun, singular, title_words
from retrieval._image_encoders import (
    ClipEncoder,
    ColourHistogramEncoder,
    EfficientNetImageEncoder,
    ImageRejected,
    load_image,
)
from retrieval._index import EmbeddingCache, HnswSettings, VectorIndex
from retrieval._indexer import CatalogIndexer, SyncStats, collection_name
from retrieval._ingest import SourceFormat, detect_format, ingest
from retrieval._lexical import BM25Index
from retrieval._model import (
    FILTER_ATTRIBUTES,
    ImageRole,
    LinkKind,
    Product,
    ProductImage,
    ProductLink,
    ProductType,
    Review,
    Variant,
    product_id,
)
from retrieval._photo_kinds import PhotoGuess, PhotoKind, PhotoKindProbe, PhotoReading, kind_of
from retrieval._query import (
    MAX_K,
    Evidence,
    Exclusions,
    Filters,
    Hit,
    Personal,
    Preferences,
    Relaxation,
    SearchQuery,
    SearchResult,
)
from retrieval._report import IngestIssue, IngestReport, IssueReason, SourceError
from retrieval._search import RankingWeights, SearchEngine
from retrieval._sources._io import parse_price
from retrieval._sources.magento import ATTRIBUTE_ALIASES, MERCHANDISING_ROOTS
from retrieval._store import (
    CatalogStamp,
    CatalogStats,
    CatalogStore,
    StoredLink,
    StoredReview,
    content_hash,
)

__all__ = [
    "ATTRIBUTE_ALIASES",
    "DEFAULT_TEXT_MODEL",
    "FILTER_ATTRIBUTES",
    "MAX_K",
    "MERCHANDISING_ROOTS",
    "BM25Index",
    "CatalogIndexer",
    "CatalogRetriever",
    "CatalogStamp",
    "CatalogStats",
    "CatalogStore",
    "Cleaner",
    "CleaningConfig",
    "ClipEncoder",
    "ColourHistogramEncoder",
    "DoctorReport",
    "EfficientNetImageEncoder",
    "EmbeddingCache",
    "EncoderUnavailable",
    "Evidence",
    "Exclusions",
    "Filters",
    "Hit",
    "HnswSettings",
    "ImageEncoder",
    "ImageRejected",
    "ImageRole",
    "IngestIssue",
    "IngestReport",
    "IssueReason",
    "LinkKind",
    "Personal",
    "PhotoGuess",
    "PhotoKind",
    "PhotoKindProbe",
    "PhotoReading",
    "Preferences",
    "ProblemKind",
    "Product",
    "ProductImage",
    "ProductLink",
    "ProductType",
    "RankingWeights",
    "Relaxation",
    "Review",
    "SearchEngine",
    "SearchQuery",
    "SearchResult",
    "SentenceTextEncoder",
    "SourceError",
    "SourceFormat",
    "StoredLink",
    "StoredReview",
    "SyncStats",
    "TagRule",
    "TextEncoder",
    "Variant",
    "VectorIndex",
    "check_catalog",
    "check_server",
    "collection_name",
    "content_hash",
    "detect_format",
    "html_to_text",
    "index_unreadable",
    "ingest",
    "kind_of",
    "load_image",
    "normalise_rows",
    "parse_price",
    "product_id",
    "same_noun",
    "singular",
    "store_damaged",
    "title_words",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    """`CatalogRetriever` imports LangChain, so it loads only when asked for."""
    if name == "CatalogRetriever":
        from retrieval._langchain import CatalogRetriever

        return CatalogRetriever
    raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
