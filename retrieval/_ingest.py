"""Ingest: read a source with its adapter, clean and enrich, resolve reviews and links, and
replace the catalog in the store in one transaction."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from tqdm import tqdm

from retrieval._cleaning import Cleaner, CleaningConfig
from retrieval._model import Product, ProductLink, Variant
from retrieval._report import IngestReport, IssueReason, SourceError
from retrieval._sources._io import SourceRecords
from retrieval._sources.eshop import is_eshop_json, read_eshop
from retrieval._sources.generic import read_generic
from retrieval._sources.magento import is_export_csv, is_fixtures_dir, read_magento
from retrieval._store import CatalogStore, StoredLink, StoredReview

_CATALOG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SourceFormat(StrEnum):
    MAGENTO = "magento"
    ESHOP = "eshop"
    GENERIC = "generic"


Reader = Callable[[Path, str, Path | None, IngestReport], SourceRecords]
_READERS: dict[SourceFormat, Reader] = {
    SourceFormat.MAGENTO: read_magento,
    SourceFormat.ESHOP: read_eshop,
    SourceFormat.GENERIC: read_generic,
}


def detect_format(source: Path) -> SourceFormat:
    """Guess the adapter from the source's shape; `--format` overrides it."""
    if is_fixtures_dir(source) or is_export_csv(source):
        return SourceFormat.MAGENTO
    if is_eshop_json(source):
        return SourceFormat.ESHOP
    if source.suffix.lower() in (".csv", ".jsonl", ".ndjson"):
        return SourceFormat.GENERIC
    raise SourceError(
        f"{source}: cannot tell its format; pass --format ({', '.join(SourceFormat)})"
    )


def ingest(
    source: Path,
    store: CatalogStore,
    *,
    catalog: str,
    cleaning: CleaningConfig,
    source_format: SourceFormat | None = None,
    images_root: Path | None = None,
    allow_empty: bool = False,
    progress: bool = True,
) -> IngestReport:
    """Replace `catalog` in `store` with what `source` holds and return the report.

    Raises SourceError, leaving the store untouched, when the source cannot be read at all or
    yields no product (unless `allow_empty`).
    """
    if not _CATALOG_NAME.match(catalog):
        raise ValueError(f"catalog name {catalog!r}: use lower-case letters, digits, - and _")
    source = Path(source)
    if not source.exists():
        raise SourceError(f"{source}: no such file or folder")
    fmt = source_format or detect_format(source)
    report = IngestReport(catalog=catalog, source=str(source), format=str(fmt))
    store.mark_ingest_started(catalog, str(source))
    try:
        products, reviews, links = _prepare(
            _READERS[fmt](source, catalog, images_root, report),
            source,
            cleaning,
            allow_empty=allow_empty,
            progress=progress,
            report=report,
        )
        store.replace_catalog(catalog, products, reviews, links, report)
    except Exception:
        store.clear_ingest_started(catalog)  # the caller sees this error; nothing to repair
        raise
    report.products = len(products)
    report.variants = sum(len(p.variants) for p in products)
    report.images = sum(len(p.images) for p in products)
    report.reviews_stored = len(reviews)
    report.reviews_attached = sum(1 for r in reviews if r.product_id)
    report.links_stored = len(links)
    report.links_resolved = sum(1 for k in links if k.target_id and k.source_id)
    return report


def _prepare(
    records: SourceRecords,
    source: Path,
    cleaning: CleaningConfig,
    *,
    allow_empty: bool,
    progress: bool,
    report: IngestReport,
) -> tuple[list[Product], list[StoredReview], list[StoredLink]]:
    """Clean, enrich and resolve what the adapter read, all in memory before the store swap."""
    if not records.products and not allow_empty:
        reasons = ", ".join(f"{k}: {v}" for k, v in report.counts().items()) or "no rows"
        raise SourceError(f"{source}: no product could be read ({reasons}); catalog kept as it was")
    cleaner = Cleaner(cleaning)
    products = _merge_duplicates(records, report)
    for product in tqdm(
        products, desc=f"cleaning {report.catalog}", unit="product", disable=not progress
    ):
        _clean(product, cleaner)
    by_sku = _sku_index(records, products)
    reviews = _resolve_reviews(records, products, by_sku, cleaner, report)
    links = _resolve_links(records, products, by_sku, report)
    cleaner.derive_tags(products)
    return products, reviews, links


def _merge_duplicates(records: SourceRecords, report: IngestReport) -> list[Product]:
    """One product per id: the first row wins, later rows fill its gaps and add variants,
    images, categories and links (nothing a duplicate adds is lost)."""
    merged: dict[str, Product] = {}
    for product, source, row in records.products:
        first = merged.get(product.id)
        if first is None:
            merged[product.id] = product
            continue
        report.add(IssueReason.DUPLICATE_ID, source, row, f"{product.sku}: merged into first row")
        for name in ("description", "price", "sale_price", "msrp", "brand"):
            if getattr(first, name) in (None, "") and getattr(product, name) not in (None, ""):
                setattr(first, name, getattr(product, name))
        if not first.category_path:
            first.category_path = product.category_path
        for key, values in product.attributes.items():
            first.attributes.setdefault(key, [])
            first.attributes[key] += [v for v in values if v not in first.attributes[key]]
        first.categories += [c for c in product.categories if c not in first.categories]
        known_skus = {v.sku for v in first.variants}
        first.variants += [v for v in product.variants if v.sku not in known_skus]
        known_images = {i.path for i in first.images}
        first.images += [i for i in product.images if i.path not in known_images]
        first.links += [k for k in product.links if k not in first.links]
        first.tags = sorted(set(first.tags) | set(product.tags))
    return list(merged.values())


def _clean(product: Product, cleaner: Cleaner) -> None:
    product.title = cleaner.title(product.title)
    product.description = cleaner.text(product.description)
    product.attributes = {
        key: list(dict.fromkeys(cleaner.normalise_terms(cleaner.title(v)) for v in values))
        for key, values in product.attributes.items()
    }
    if product.brand:
        product.brand = cleaner.title(product.brand)
    product.variants = [
        Variant(
            v.sku,
            cleaner.title(v.size) if v.size else None,
            cleaner.title(v.color) if v.color else None,
            v.in_stock,
            v.qty,
            v.price,
        )
        for v in product.variants
    ]


def _sku_index(records: SourceRecords, products: list[Product]) -> dict[str, str]:
    """SKU (own, variant or alias) -> product id."""
    by_sku = {p.sku: p.id for p in products}
    for product in products:
        for variant in product.variants:
            by_sku.setdefault(variant.sku, product.id)
    for alias, parent in records.sku_aliases.items():
        if parent in by_sku:
            by_sku.setdefault(alias, by_sku[parent])
    return by_sku


def _resolve_reviews(
    records: SourceRecords,
    products: list[Product],
    by_sku: dict[str, str],
    cleaner: Cleaner,
    report: IngestReport,
) -> list[StoredReview]:
    """Reviews attach by SKU; those for SKUs not in the catalog are kept unattached and
    reported; spam and too-short reviews are dropped by the configured rule."""
    by_id = {p.id: p for p in products}
    kept: list[StoredReview] = []
    for record in records.reviews:
        review = record.review
        review.text = cleaner.text(review.text)
        review.title = cleaner.title(review.title)
        rejection = cleaner.review_rejection(review)
        if rejection is not None:
            reason = (
                IssueReason.REVIEW_SPAM if rejection == "spam" else IssueReason.REVIEW_TOO_SHORT
            )
            report.add(reason, record.source, record.row, f"{record.sku}: {review.text[:40]!r}")
            continue
        pid = by_sku.get(record.sku)
        if pid is None:
            report.add(IssueReason.REVIEW_UNKNOWN_PRODUCT, record.source, record.row, record.sku)
        else:
            by_id[pid].reviews.append(review)
        kept.append(StoredReview(record.sku, pid, review, record.source))
    return kept


def _resolve_links(
    records: SourceRecords, products: list[Product], by_sku: dict[str, str], report: IngestReport
) -> list[StoredLink]:
    """Every link is stored; ends that name no product keep a null id and are reported."""
    pairs: list[tuple[str, ProductLink, str, int | None]] = [
        (p.sku, link, "catalog", None) for p in products for link in p.links
    ]
    pairs += [(r.sku, r.link, r.source, r.row) for r in records.links]
    stored: dict[tuple[str, str, str], StoredLink] = {}
    for sku, link, source, row in pairs:
        key = (str(link.kind), sku, link.target_sku)
        if key in stored:
            continue
        source_id, target_id = by_sku.get(sku), by_sku.get(link.target_sku)
        if source_id is None or target_id is None:
            missing = sku if source_id is None else link.target_sku
            report.add(IssueReason.LINK_UNKNOWN_PRODUCT, source, row, f"{link.kind}: {missing}")
        stored[key] = StoredLink(link.kind, sku, link.target_sku, source_id, target_id)
    for product in products:
        product.links = []
    return list(stored.values())
