"""The catalog store: SQLite, the single source of truth for product facts.

Vector indexes are derived from it and can be rebuilt; prices, sizes, stock and reviews are
always read from here. A catalog is replaced in one transaction, so a failed or killed ingest
leaves the previous catalog whole.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval._model import FILTER_ATTRIBUTES, LinkKind, Product, ProductLink, Review
from retrieval._report import IngestReport

SCHEMA_VERSION = 1
# `meta` keys of the version stamp (see `CatalogStamp`).
CATALOG_VERSION_KEY = "catalog_version"
INDEX_VERSION_KEY = "index_version"
# Facets the retriever filters on; values are stored lower-cased for exact matching.
FACETS = ("color", "size", "gender", *FILTER_ATTRIBUTES, "style", "brand", "category", "tag")
COVERAGE_FIELDS = ("brand", "color", "size", "gender", *FILTER_ATTRIBUTES)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    catalog TEXT NOT NULL,
    sku TEXT NOT NULL,
    title TEXT NOT NULL,
    product_type TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL,
    effective_price REAL,
    brand TEXT,
    in_stock INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (catalog, sku)
);
CREATE INDEX IF NOT EXISTS products_catalog ON products (catalog);
CREATE INDEX IF NOT EXISTS products_price ON products (effective_price);
CREATE TABLE IF NOT EXISTS facets (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (product_id, facet, value)
);
CREATE INDEX IF NOT EXISTS facets_value ON facets (facet, value);
CREATE TABLE IF NOT EXISTS reviews (
    rowid INTEGER PRIMARY KEY,
    catalog TEXT NOT NULL,
    sku TEXT NOT NULL,
    product_id TEXT REFERENCES products (id) ON DELETE SET NULL,
    rating REAL NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_product ON reviews (product_id);
CREATE TABLE IF NOT EXISTS links (
    catalog TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_sku TEXT NOT NULL,
    target_sku TEXT NOT NULL,
    source_id TEXT,
    target_id TEXT,
    PRIMARY KEY (catalog, kind, source_sku, target_sku)
);
CREATE INDEX IF NOT EXISTS links_source ON links (source_id);
CREATE TABLE IF NOT EXISTS ingests (
    catalog TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingests_started (
    catalog TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL
);
"""


@dataclass(slots=True)
class StoredReview:
    """A review row; `product_id` is None when its SKU is not in the catalog (kept, not lost)."""

    sku: str
    product_id: str | None
    review: Review
    source: str


@dataclass(slots=True)
class StoredLink:
    kind: LinkKind
    source_sku: str
    target_sku: str
    source_id: str | None
    target_id: str | None


@dataclass(frozen=True, slots=True)
class CatalogStamp:
    """What a running server compares to know its copy of the catalog is out of date.

    `catalog` counts catalog replacements (ingests); it is bumped in the transaction that swaps
    the products, so it can never name content that is not committed. `index` counts vector
    index syncs that changed something: an ingest commits the store first and syncs the index
    after, so a server that reloaded at the first bump must reload again for the vectors.
    """

    catalog: int = 0
    index: int = 0


@dataclass(slots=True)
class CatalogStats:
    """What `shopassist catalog stats` prints."""

    products: int
    variants: int
    images: int
    reviews_attached: int
    reviews_orphan: int
    links: int
    links_resolved: int
    per_catalog: dict[str, int] = field(default_factory=dict)
    per_category: dict[str, int] = field(default_factory=dict)
    price_min: float | None = None
    price_median: float | None = None
    price_max: float | None = None
    coverage: dict[str, float] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)


class CatalogStore:
    """Reads and replaces catalogs in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:
                yield db
        finally:
            db.close()

    # -- writing --------------------------------------------------------------------------------
    def replace_catalog(
        self,
        catalog: str,
        products: list[Product],
        reviews: list[StoredReview],
        links: list[StoredLink],
        report: IngestReport,
    ) -> None:
        """Swap one catalog's whole content atomically (other catalogs are untouched)."""
        with self._connect() as db:
            db.execute("DELETE FROM reviews WHERE catalog = ?", (catalog,))
            db.execute("DELETE FROM links WHERE catalog = ?", (catalog,))
            db.execute("DELETE FROM products WHERE catalog = ?", (catalog,))
            db.executemany(
                "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_product_row(p) for p in products],
            )
            db.executemany(
                "INSERT INTO facets VALUES (?, ?, ?)",
                [(p.id, facet, value) for p in products for facet, value in _facet_values(p)],
            )
            db.executemany(
                "INSERT INTO reviews"
                " (catalog, sku, product_id, rating, title, text, author, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        catalog,
                        r.sku,
                        r.product_id,
                        r.review.rating,
                        r.review.title,
                        r.review.text,
                        r.review.author,
                        r.source,
                    )
                    for r in reviews
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO links VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (catalog, str(k.kind), k.source_sku, k.target_sku, k.source_id, k.target_id)
                    for k in links
                ],
            )
            db.execute("DELETE FROM ingests_started WHERE catalog = ?", (catalog,))
            _bump(db, CATALOG_VERSION_KEY)  # same transaction: the version names this content
            db.execute(
                "INSERT OR REPLACE INTO ingests VALUES (?, ?, ?, ?, ?)",
                (
                    catalog,
                    report.source,
                    report.format,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    json.dumps(report.to_dict()),
                ),
            )

    def bump_index_version(self) -> None:
        """Called after a vector index sync that changed something, so running servers reload
        the vectors too (see `CatalogStamp`)."""
        with self._connect() as db:
            _bump(db, INDEX_VERSION_KEY)

    def mark_ingest_started(self, catalog: str, source: str) -> None:
        """Committed before the source is read and deleted in the catalog swap's transaction, so
        a row left behind means an ingest was killed (what `shopassist doctor` reports)."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO ingests_started VALUES (?, ?, ?)",
                (catalog, source, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def clear_ingest_started(self, catalog: str) -> None:
        """For an ingest that failed cleanly: its error was reported, nothing is left to repair."""
        with self._connect() as db:
            db.execute("DELETE FROM ingests_started WHERE catalog = ?", (catalog,))

    # -- reading --------------------------------------------------------------------------------
    def version(self) -> int:
        """The catalog version: how many catalog replacements this store has committed (0 for
        a store never ingested into). One indexed read, cheap enough for every turn."""
        return self.stamp().catalog

    def stamp(self) -> CatalogStamp:
        """The catalog and index versions, read in one query (about 0.5 ms: it runs on every
        turn). A bare connection: WAL mode is kept in the file and a read needs no foreign
        keys; a new one each time still sees a store file that was replaced."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            rows = dict(
                db.execute(
                    "SELECT key, value FROM meta WHERE key IN (?, ?)",
                    (CATALOG_VERSION_KEY, INDEX_VERSION_KEY),
                )
            )
        finally:
            db.close()
        return CatalogStamp(
            int(rows.get(CATALOG_VERSION_KEY, 0)), int(rows.get(INDEX_VERSION_KEY, 0))
        )

    def unfinished_ingests(self) -> list[tuple[str, str, str]]:
        """(catalog, source, started_at) of ingests that started and never swapped nor failed."""
        with self._connect() as db:
            return list(db.execute("SELECT catalog, source, started_at FROM ingests_started"))

    def catalogs(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT catalog FROM products ORDER BY 1")]

    def count(self, catalog: str | None = None) -> int:
        with self._connect() as db:
            query, args = _where_catalog("SELECT COUNT(*) FROM products", catalog)
            return int(db.execute(query, args).fetchone()[0])

    def get(self, product_id: str) -> Product | None:
        found = self.get_many([product_id])
        return found[0] if found else None

    def get_many(self, product_ids: Iterable[str]) -> list[Product]:
        """Products in the order asked; unknown ids are skipped."""
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return []
        with self._connect() as db:
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT id, data FROM products WHERE id IN ({marks})", ids)
            by_id = {pid: data for pid, data in rows}
            products = [Product.from_dict(json.loads(by_id[i])) for i in ids if i in by_id]
            self._attach(db, products)
        return products

    def products(self, catalog: str | None = None) -> list[Product]:
        with self._connect() as db:
            query, args = _where_catalog("SELECT data FROM products", catalog)
            products = [
                Product.from_dict(json.loads(r[0]))
                for r in db.execute(query + " ORDER BY id", args)
            ]
            self._attach(db, products)
        return products

    def reviews(
        self, catalog: str | None = None, *, orphans_only: bool = False
    ) -> list[StoredReview]:
        query, args = _where_catalog(
            "SELECT sku, product_id, rating, title, text, author, source FROM reviews", catalog
        )
        if orphans_only:
            query += (" AND" if catalog else " WHERE") + " product_id IS NULL"
        with self._connect() as db:
            return [
                StoredReview(sku, pid, Review(rating, text, title, author), source)
                for sku, pid, rating, title, text, author, source in db.execute(query, args)
            ]

    def links(self, catalog: str | None = None) -> list[StoredLink]:
        query, args = _where_catalog(
            "SELECT kind, source_sku, target_sku, source_id, target_id FROM links", catalog
        )
        with self._connect() as db:
            return [
                StoredLink(LinkKind(k), s, t, si, ti) for k, s, t, si, ti in db.execute(query, args)
            ]

    def last_report(self, catalog: str) -> IngestReport | None:
        with self._connect() as db:
            row = db.execute("SELECT report FROM ingests WHERE catalog = ?", (catalog,)).fetchone()
        return IngestReport.from_dict(json.loads(row[0])) if row else None

    def vocabulary(self, facet: str, catalog: str | None = None) -> list[str]:
        """Distinct values of a facet: the catalog's own words for NLU and filters."""
        query = "SELECT DISTINCT f.value FROM facets f JOIN products p ON p.id = f.product_id"
        query += " WHERE f.facet = ?" + (" AND p.catalog = ?" if catalog else "")
        args: tuple[str, ...] = (facet, catalog) if catalog else (facet,)
        with self._connect() as db:
            return sorted(r[0] for r in db.execute(query + " ORDER BY 1", args))

    def ids_with_facet(self, facet: str, values: Iterable[str]) -> set[str]:
        """Ids of products having any of the values (case-insensitive) for the facet."""
        wanted = sorted({v.lower() for v in values})
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT product_id FROM facets WHERE facet = ? AND value IN ({marks})",
                (facet, *wanted),
            )
            return {r[0] for r in rows}

    def stats(self, catalog: str | None = None) -> CatalogStats:
        products = self.products(catalog)
        reviews = self.reviews(catalog)
        links = self.links(catalog)
        prices = sorted(p.effective_price for p in products if p.effective_price is not None)
        categories = Counter("/".join(p.category_path[:2]) or "(none)" for p in products)
        coverage = {
            name: _share(
                products, lambda p, n=name: bool(p.brand if n == "brand" else p.attribute_values(n))
            )
            for name in COVERAGE_FIELDS
        }
        coverage["images"] = _share(products, lambda p: bool(p.images))
        coverage["reviews"] = _share(products, lambda p: bool(p.reviews))
        coverage["description"] = _share(products, lambda p: bool(p.description))
        return CatalogStats(
            products=len(products),
            variants=sum(len(p.variants) for p in products),
            images=sum(len(p.images) for p in products),
            reviews_attached=sum(1 for r in reviews if r.product_id),
            reviews_orphan=sum(1 for r in reviews if not r.product_id),
            links=len(links),
            links_resolved=sum(1 for k in links if k.source_id and k.target_id),
            per_catalog=dict(Counter(p.catalog for p in products).most_common()),
            per_category=dict(sorted(categories.items())),
            price_min=prices[0] if prices else None,
            price_median=statistics.median(prices) if prices else None,
            price_max=prices[-1] if prices else None,
            coverage=coverage,
            tags=dict(Counter(t for p in products for t in p.tags).most_common()),
        )

    def _attach(self, db: sqlite3.Connection, products: list[Product]) -> None:
        """Reviews and links live in their own tables; join them onto loaded products."""
        by_id = {p.id: p for p in products}
        if not by_id:
            return
        marks = ",".join("?" * len(by_id))
        ids = list(by_id)
        for pid, rating, title, text, author in db.execute(
            "SELECT product_id, rating, title, text, author FROM reviews"
            f" WHERE product_id IN ({marks}) ORDER BY rowid",
            ids,
        ):
            by_id[pid].reviews.append(Review(rating, text, title, author))
        for pid, kind, target in db.execute(
            f"SELECT source_id, kind, target_sku FROM links WHERE source_id IN ({marks})", ids
        ):
            by_id[pid].links.append(ProductLink(LinkKind(kind), target))


def _bump(db: sqlite3.Connection, key: str) -> None:
    """Add one to an integer in `meta` (starting at 1), inside the caller's transaction."""
    db.execute(
        "INSERT INTO meta VALUES (?, '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (key,),
    )


def content_hash(product: Product) -> str:
    """Stable hash of everything an encoder could see, so re-ingests re-encode only changes."""
    payload = json.dumps(product.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _product_row(product: Product) -> tuple[Any, ...]:
    data = product.to_dict()
    data["reviews"], data["links"] = [], []
    return (
        product.id,
        product.catalog,
        product.sku,
        product.title,
        str(product.product_type),
        "/".join(product.category_path),
        product.price,
        product.effective_price,
        product.brand,
        int(product.in_stock),
        content_hash(product),
        json.dumps(data, ensure_ascii=False),
    )


def _facet_values(product: Product) -> set[tuple[str, str]]:
    values: set[tuple[str, str]] = set()
    for facet in FACETS:
        if facet == "brand":
            found = [product.brand] if product.brand else []
        elif facet == "category":
            found = [c for path in product.categories for c in path]
        elif facet == "tag":
            found = product.tags
        else:
            found = product.attribute_values(facet)
        values |= {(facet, v.lower()) for v in found if v}
    return values


def _where_catalog(query: str, catalog: str | None) -> tuple[str, tuple[str, ...]]:
    return (query + " WHERE catalog = ?", (catalog,)) if catalog else (query, ())


def _share(products: list[Product], predicate: Any) -> float:
    return round(sum(1 for p in products if predicate(p)) / len(products), 3) if products else 0.0
