"""Catalog model, ingestion and cleaning, the catalog store (and, later, encoders and search).

The public surface is re-exported here; modules with a leading underscore are private.
"""

from retrieval._cleaning import Cleaner, CleaningConfig, TagRule, html_to_text
from retrieval._ingest import SourceFormat, detect_format, ingest
from retrieval._model import (
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
from retrieval._report import IngestIssue, IngestReport, IssueReason, SourceError
from retrieval._sources._io import parse_price
from retrieval._store import CatalogStats, CatalogStore, StoredLink, StoredReview, content_hash

__all__ = [
    "CatalogStats",
    "CatalogStore",
    "Cleaner",
    "CleaningConfig",
    "ImageRole",
    "IngestIssue",
    "IngestReport",
    "IssueReason",
    "LinkKind",
    "Product",
    "ProductImage",
    "ProductLink",
    "ProductType",
    "Review",
    "SourceError",
    "SourceFormat",
    "StoredLink",
    "StoredReview",
    "TagRule",
    "Variant",
    "content_hash",
    "detect_format",
    "html_to_text",
    "ingest",
    "parse_price",
    "product_id",
]
