"""`shopassist eval audit`: who gets the recommendation slots, how varied and how novel they are.

The audit covers the whole store, not one catalog: the assistant searches every catalog at once
(no catalog filter), so the slots are shared between catalogs and that is where a skew shows.
Over the sample store this makes "(no brand)" the Luma share of the brand facet.

- Exposure: per facet (brand, category, price band), each value's share of the recommendation
  slots against its share of the catalog; plain (every slot counts 1) and position-weighted
  (1/log2(rank+1), as in DCG). Skew per value is exposure share / catalog share; the facet's
  skew is the total variation distance (half the L1 distance, in [0, 1]: the share of slots
  that would have to move to match the catalog), chosen over KL because it is bounded and
  reads as a share.
- Category is the product kind: the deepest node of the product's path before a merchandising
  branch (Luma files bags under "Gear/Bags/Collections/Erin Recommends"). Luma's top level has
  only Men, Women and Gear; the kind is what shoppers ask for and what the queries target.
- Price bands are quantile bands of the catalog's effective prices.
- Diversity: intra-list similarity (mean pairwise cosine of the engine's text vectors in a
  list, averaged over lists) and coverage (share of the catalog recommended at least once).
- Novelty: mean self-information -log2 p(item) over the slots, with p(item) the item's review
  count plus one, divided by the sum over the catalog (add-one smoothing gives unreviewed
  items, all of eShop among them, a non-zero popularity).

Queries: the catalog's attribute queries searched with their constraints as filters (as the
dialogue model passes them) and a free-text twin of each, the same words phrased as a shopper
types them, searched with no filters: the pair shows what the filters change.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals._retrieval_eval import LEAF_NOUNS, K, attribute_queries
from retrieval import MERCHANDISING_ROOTS, Filters, Product, SearchEngine, SearchQuery

NO_BRAND = "(no brand)"
NO_CATEGORY = "(no category)"
NO_PRICE = "(no price)"
PRICE_BANDS = 4
FACETS = ("brand", "category", "price band")
# Facets whose values read best in their own order (cheapest band first), not by share.
ORDERED_FACETS = ("price band",)
ATTRIBUTE, FREE_TEXT, ALL = "attribute", "free text", "all"
FREE_TEXT_TEMPLATES = ("show me {}", "looking for {}", "any {}?", "{} please")


# -- pure metrics -----------------------------------------------------------------------------
def position_weight(rank: int) -> float:
    """DCG's discount for a 1-based rank: the top slot counts 1, the tenth about 0.29."""
    return 1 / math.log2(rank + 1)


def catalog_shares(labels: Iterable[str]) -> dict[str, float]:
    """Each value's share of the catalog's products."""
    counts = Counter(labels)
    total = sum(counts.values())
    return {value: count / total for value, count in counts.items()}


def exposure_shares(lists: Sequence[Sequence[str]], *, weighted: bool = False) -> dict[str, float]:
    """Each value's share of the slots over all lists (lists hold one label per ranked slot)."""
    totals: dict[str, float] = {}
    for labels in lists:
        for rank, label in enumerate(labels, start=1):
            totals[label] = totals.get(label, 0.0) + (position_weight(rank) if weighted else 1.0)
    mass = sum(totals.values())
    return {value: weight / mass for value, weight in totals.items()} if mass else {}


def skew_ratios(exposure: Mapping[str, float], catalog: Mapping[str, float]) -> dict[str, float]:
    """Exposure share / catalog share per catalog value: 1 is fair, 0 never shown."""
    return {value: exposure.get(value, 0.0) / share for value, share in catalog.items()}


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Half the L1 distance between two share maps: 0 when equal, 1 when disjoint."""
    return 0.5 * sum(abs(p.get(v, 0.0) - q.get(v, 0.0)) for v in set(p) | set(q))


def intra_list_similarity(vectors: np.ndarray) -> float | None:
    """Mean pairwise cosine similarity of a list's (non-zero) vectors; None below two items."""
    if len(vectors) < 2:
        return None
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    upper = np.triu_indices(len(unit), k=1)
    return float((unit @ unit.T)[upper].mean())


def popularity(review_counts: Mapping[str, int]) -> dict[str, float]:
    """Add-one smoothed review counts, normalised to sum to 1 over the catalog."""
    total = sum(review_counts.values()) + len(review_counts)
    return {item: (count + 1) / total for item, count in review_counts.items()}


def mean_self_information(items: Iterable[str], popularity_of: Mapping[str, float]) -> float:
    """Mean -log2 p(item) in bits: higher means less popular, more novel recommendations."""
    return statistics.fmean(-math.log2(popularity_of[item]) for item in items)


def coverage(lists: Iterable[Iterable[str]], catalog: Iterable[str]) -> float:
    """Share of the catalog recommended at least once."""
    ids = set(catalog)
    return len(ids & {item for items in lists for item in items}) / len(ids)


# -- facet labels -----------------------------------------------------------------------------
def product_kind(product: Product) -> str:
    """The deepest category before a merchandising branch (Collections, Promotions)."""
    path = product.category_path
    cut = next((i for i, name in enumerate(path) if name in MERCHANDISING_ROOTS), len(path))
    return path[cut - 1] if cut else NO_CATEGORY


def price_band_edges(prices: Sequence[float], bands: int = PRICE_BANDS) -> list[float]:
    """Band boundaries from the minimum to the maximum at the price quantiles (ties merge)."""
    edges = [float(edge) for edge in np.unique(np.quantile(prices, np.linspace(0, 1, bands + 1)))]
    return edges if len(edges) > 1 else edges * 2  # one price: a single "$x-$x" band


def price_band(price: float | None, edges: Sequence[float]) -> str:
    """The '$lo-$hi' band holding the price; a price on an inner edge goes to the lower band."""
    if price is None:
        return NO_PRICE
    band = min(max(int(np.searchsorted(edges, price, side="left")), 1), len(edges) - 1)
    return f"${edges[band - 1]:,.0f}-${edges[band]:,.0f}"


def facet_labels(products: Sequence[Product]) -> dict[str, dict[str, str]]:
    """Facet -> product id -> the value that product counts under (price bands are met
    cheapest first, so their first-seen order is the price order)."""
    prices = sorted(p.effective_price for p in products if p.effective_price is not None)
    edges = price_band_edges(prices) if prices else []
    by_price = sorted(products, key=lambda p: (p.effective_price is None, p.effective_price or 0))
    return {
        "brand": {p.id: p.brand or NO_BRAND for p in products},
        "category": {p.id: product_kind(p) for p in products},
        "price band": {p.id: price_band(p.effective_price, edges) for p in by_price},
    }


# -- the audit --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AuditQuery:
    kind: str
    text: str
    filters: Filters = field(default_factory=Filters)


def audit_queries(products: Sequence[Product], limit: int | None = None) -> list[AuditQuery]:
    """The catalog's attribute queries (first `limit`) with their constraints as store-wide
    filters, each followed by its unfiltered free-text twin. Every product kind of every
    catalog is asked for (kinds without a curated shopper noun by their own name), so no
    catalog is under-exposed merely because nobody asked for its products."""
    nouns = {kind: kind.lower() for p in products if (kind := product_kind(p)) != NO_CATEGORY}
    queries = []
    for i, query in enumerate(attribute_queries(products, nouns={**nouns, **LEAF_NOUNS})[:limit]):
        # Store-wide: the attribute query's constraints without its catalog.
        filters = replace(query.filters(""), catalog=None)
        queries.append(AuditQuery(ATTRIBUTE, query.text, filters))
        template = FREE_TEXT_TEMPLATES[i % len(FREE_TEXT_TEMPLATES)]
        queries.append(AuditQuery(FREE_TEXT, template.format(query.text)))
    return queries


@dataclass(frozen=True, slots=True)
class ValueExposure:
    value: str
    catalog: float
    exposure: float
    weighted: float
    skew: float
    weighted_skew: float


@dataclass(frozen=True, slots=True)
class FacetAudit:
    name: str
    values: list[ValueExposure]
    tvd: float
    weighted_tvd: float


@dataclass(frozen=True, slots=True)
class GroupAudit:
    """Every metric over one set of result lists (one query kind, or all queries)."""

    queries: int
    ils: float | None
    coverage: float
    novelty: float | None
    facets: list[FacetAudit]


@dataclass
class AuditReport:
    k: int
    groups: dict[str, GroupAudit]
    # What a random pick from the catalog would score: ILS of the whole catalog, mean novelty.
    reference: dict[str, float | None]
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, header, rows) for the summary and each facet of all queries; the CLI and
        the Markdown report render the same tables."""
        header = ["queries", "lists", "ILS", "coverage", "novelty", *(f"TVD {f}" for f in FACETS)]
        summary = [
            [
                name,
                str(group.queries),
                _number(group.ils),
                f"{group.coverage:.1%}",
                _number(group.novelty, ".2f"),
                *(f"{f.tvd:.3f}/{f.weighted_tvd:.3f}" for f in group.facets),
            ]
            for name, group in self.groups.items()
        ]
        summary.append(
            ["random pick", "-", _number(self.reference["ils"]), "-"]
            + [_number(self.reference["novelty"], ".2f")]
            + ["~0"] * len(FACETS)
        )
        title = f"Recommendation audit, top {self.k} (novelty in bits; TVD plain/position-weighted)"
        tables = [(title, header, summary)]
        for facet in self.groups[ALL].facets:
            title = (
                f"Exposure by {facet.name} (all queries): TVD {facet.tvd:.3f} plain, "
                f"{facet.weighted_tvd:.3f} position-weighted"
            )
            columns = [facet.name, "catalog", "exposure", "weighted", "skew", "weighted skew"]
            rows = [
                [
                    v.value,
                    f"{v.catalog:.1%}",
                    f"{v.exposure:.1%}",
                    f"{v.weighted:.1%}",
                    f"{v.skew:.2f}x",
                    f"{v.weighted_skew:.2f}x",
                ]
                for v in facet.values
            ]
            tables.append((title, columns, rows))
        return tables


def _number(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def audit_group(
    lists: Sequence[Sequence[str]],
    labels: Mapping[str, Mapping[str, str]],
    vectors: Mapping[str, np.ndarray],
    popularity_of: Mapping[str, float],
) -> GroupAudit:
    """All metrics for ranked lists of product ids. `labels` is facet -> id -> value,
    `vectors` each id's text vector (ids without one are left out of ILS) and `popularity_of`
    each catalog id's popularity (its keys are the catalog that coverage counts against)."""
    facets = []
    for name, of in labels.items():
        catalog = catalog_shares(of.values())
        labelled = [[of[item] for item in items] for items in lists]
        plain = exposure_shares(labelled)
        weighted = exposure_shares(labelled, weighted=True)
        skew, weighted_skew = skew_ratios(plain, catalog), skew_ratios(weighted, catalog)
        order = list(catalog.items())  # first-seen order
        if name not in ORDERED_FACETS:
            order.sort(key=lambda kv: (-kv[1], kv[0]))
        values = [
            ValueExposure(
                value,
                share,
                plain.get(value, 0.0),
                weighted.get(value, 0.0),
                skew[value],
                weighted_skew[value],
            )
            for value, share in order
        ]
        facets.append(
            FacetAudit(
                name, values, total_variation(plain, catalog), total_variation(weighted, catalog)
            )
        )
    similarities = [
        intra_list_similarity(np.array([vectors[i] for i in items if i in vectors]))
        for items in lists
    ]
    scored = [s for s in similarities if s is not None]
    slots = [item for items in lists for item in items]
    return GroupAudit(
        queries=len(lists),
        ils=statistics.fmean(scored) if scored else None,
        coverage=coverage(lists, popularity_of.keys()),  # popularity spans the catalog
        novelty=mean_self_information(slots, popularity_of) if slots else None,
        facets=facets,
    )


def run_audit(
    engine: SearchEngine,
    products: Sequence[Product],
    queries: Sequence[AuditQuery],
    k: int = K,
    *,
    progress: bool = True,
) -> AuditReport:
    """Search every query as a shopper would see it (hits, then the labelled close
    alternatives that fill the page) and audit the top-k lists over `products`."""
    lists: dict[str, list[list[str]]] = {ATTRIBUTE: [], FREE_TEXT: []}
    for query in tqdm(queries, desc="audit queries", disable=not progress):
        result = engine.search(SearchQuery(text=query.text, filters=query.filters, k=k))
        page = [hit.product.id for hit in (*result.hits, *result.alternatives)][:k]
        lists[query.kind].append(page)
    labels = facet_labels(products)
    ids = [p.id for p in products]
    vectors = {
        pid: vector for pid in ids if (vector := engine.text_space.vector_of(pid)) is not None
    }
    popularity_of = popularity({p.id: len(p.reviews) for p in products})
    groups = {
        ALL: audit_group([*lists[ATTRIBUTE], *lists[FREE_TEXT]], labels, vectors, popularity_of),
        **{
            kind: audit_group(pages, labels, vectors, popularity_of)
            for kind, pages in lists.items()
        },
    }
    reference = {
        "ils": intra_list_similarity(np.array(list(vectors.values()))),
        "novelty": mean_self_information(ids, popularity_of),
    }
    context = {
        "products": len(products),
        "catalogs": dict(Counter(p.catalog for p in products)),
        "category": "product kind: deepest category before a merchandising branch",
        "price_bands": [v for v in dict.fromkeys(labels["price band"].values()) if v != NO_PRICE],
        "popularity": "(reviews + 1) / sum over the catalog of (reviews + 1)",
        "position_weight": "1 / log2(rank + 1)",
    }
    return AuditReport(k=k, groups=groups, reference=reference, context=context)


# -- the report -------------------------------------------------------------------------------
def save_audit(report: AuditReport, out_dir: Path) -> dict[str, Path]:
    """JSON with every number, Markdown tables for the README and a share chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "audit.json",
        "markdown": out_dir / "audit.md",
        "chart": out_dir / "audit.png",
    }
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    paths["markdown"].write_text(audit_markdown(report), encoding="utf-8")
    _chart(report.groups[ALL].facets, paths["chart"])
    return paths


def audit_markdown(report: AuditReport) -> str:
    lines = []
    for title, header, rows in report.tables():
        lines.append(f"**{title}**\n")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---" * len(header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def _chart(facets: list[FacetAudit], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tallest = max(len(f.values) for f in facets)
    figure, axes = plt.subplots(
        1, len(facets), figsize=(5 * len(facets), 1 + 0.3 * tallest), squeeze=False
    )
    for axis, facet in zip(axes[0], facets, strict=True):
        rows = np.arange(len(facet.values))
        names = [v.value.replace("$", r"\$") for v in facet.values]  # "$" starts mathtext
        axis.barh(
            rows - 0.2, [v.catalog for v in facet.values], 0.4, label="catalog", color="#bbbbbb"
        )
        axis.barh(
            rows + 0.2, [v.exposure for v in facet.values], 0.4, label="exposure", color="#4a7ab0"
        )
        axis.set_yticks(rows, names)
        axis.set_title(f"{facet.name}: TVD {facet.tvd:.2f}")
        axis.set_xlabel("share")
        axis.invert_yaxis()
        axis.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
