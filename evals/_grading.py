"""Grading products against the held-out sets' predicates, from the stored catalog.

Why a separate view of each product: the test sets speak in the store's raw labels (Magento
attribute codes, `Yes`/`1` flags, sale categories, eShop `Id`s), and the grade must not depend
on how the assistant itself reads a product. Every key follows sample_data/heldout/README.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from evals._testsets import Predicate
from retrieval import ATTRIBUTE_ALIASES, Product

# The Magento adapter files some raw attribute codes under the names the assistant filters on
# (three style columns become one `style`). Grading reads the adapter's own table, so a raw
# code in a test set finds its values wherever ingestion put them; the audit says so loudly.

GENDERS = ("Men", "Women")
UNISEX = "Unisex"
# A category level that marks a sale collection ("Men Sale", "Women Sale").
SALE_CATEGORY = re.compile(r"\bsale\b", re.IGNORECASE)
SALE_FLAG_VALUES = frozenset({"yes", "1"})


def stored_attribute(raw_name: str) -> str:
    """Where ingestion keeps a raw attribute code."""
    return ATTRIBUTE_ALIASES.get(raw_name, raw_name)


@lru_cache(maxsize=512)
def _phrase(phrase: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive: 'red' is not found in 'reduce'; '45l' is in '45L'."""
    return re.compile(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)")


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """One stored product as the test sets describe products."""

    id: str
    catalog: str
    sku: str
    title: str
    leaf: str
    categories: frozenset[str]
    genders: frozenset[str]
    colors: frozenset[str]
    sizes: frozenset[str]
    materials: frozenset[str]
    attributes: Mapping[str, frozenset[str]]
    brand: str
    price: float | None
    on_sale: bool
    text: str

    @classmethod
    def of(cls, product: Product) -> ProductFacts:
        categories = {level for path in product.categories for level in path}
        categories.update(product.category_path)
        # Apparel is gendered by its category path (Men/..., Women/...); gear by its gender
        # attribute, where Unisex meets either.
        roots = {path[0] for path in product.categories if path and path[0] in GENDERS}
        raw_gender = set(product.attributes.get("gender", []))
        genders = roots or (raw_gender & set(GENDERS)) | (
            set(GENDERS) if UNISEX in raw_gender else set()
        )
        attributes = {name: _folded(values) for name, values in product.attributes.items()}
        sale = (
            product.on_sale
            or bool(attributes.get("sale", frozenset()) & SALE_FLAG_VALUES)
            or any(SALE_CATEGORY.search(c) for c in categories)
        )
        words = [product.title, product.description]
        words += [v for values in product.attributes.values() for v in values]
        return cls(
            id=product.id,
            catalog=product.catalog,
            sku=product.sku,
            title=product.title,
            leaf=product.category_path[-1] if product.category_path else "",
            categories=_folded(categories),
            genders=frozenset(genders),
            colors=_folded(product.colors),
            sizes=_folded(product.sizes),
            materials=_folded(product.attributes.get("material", [])),
            attributes=attributes,
            brand=(product.brand or "").casefold(),
            price=product.effective_price,
            on_sale=sale,
            text=" ".join(words).lower(),
        )


def failures(
    facts: ProductFacts, predicate: Predicate, shown_color: str | None = None
) -> list[str]:
    """The keys of `predicate` this product breaks (empty: it meets all of them).

    `shown_color` is the colour a card displays, for `colors_none` ("a card shown in an
    excluded colour also breaks it")."""
    return [key for key, wanted in predicate.items() if not _holds(facts, key, wanted, shown_color)]


def _holds(facts: ProductFacts, key: str, wanted: object, shown_color: str | None) -> bool:
    values = _folded(str(v) for v in wanted) if isinstance(wanted, list) else frozenset()
    match key:
        case "none":
            return not wanted  # `none: true`: the store carries no such thing
        case "categories_any":
            return bool(facts.categories & values)
        case "gender":
            return str(wanted) in facts.genders
        case "colors_any":
            return bool(facts.colors & values)
        case "colors_none":
            # Broken only when every colour it comes in is excluded (or the card shows one).
            only_excluded = bool(facts.colors) and facts.colors <= values
            return not only_excluded and (shown_color or "").casefold() not in values
        case "sizes_any":
            return bool(facts.sizes & values)
        case "materials_any":
            return bool(facts.materials & values)
        case "materials_none":
            return not facts.materials & values  # a material is in the product, not a choice
        case "attribute":
            assert isinstance(wanted, dict)
            return all(
                facts.attributes.get(stored_attribute(name), frozenset())
                & _folded(map(str, allowed))
                for name, allowed in wanted.items()
            )
        case "brand":
            # One brand, or a list meaning any of them ("any brand except B&R" is written as
            # the kind's other brands): a list must not be compared as one spelling.
            return facts.brand in (values or {str(wanted).casefold()})
        case "price_max":
            return facts.price is not None and facts.price <= float(str(wanted))
        case "price_min":
            return facts.price is not None and facts.price >= float(str(wanted))
        case "on_sale":
            return facts.on_sale is bool(wanted)
        case "sku_any":
            return facts.sku.casefold() in values
        case "text_any":
            phrases = wanted if isinstance(wanted, list) else [wanted]
            return any(_phrase(str(p)).search(facts.text) for p in phrases)
    raise ValueError(f"unknown predicate key {key!r}")


class Grader:
    """Gains and constraint checks over every stored product, by product id."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.facts = {p.id: ProductFacts.of(p) for p in products}

    def in_store(self, store: str) -> list[ProductFacts]:
        return [f for f in self.facts.values() if f.catalog == store]

    def meets(self, product_id: str, store: str, *predicates: Predicate) -> bool:
        """A product of that store that meets every predicate."""
        facts = self.facts.get(product_id)
        return (
            facts is not None
            and facts.catalog == store
            and not any(failures(facts, p) for p in predicates)
        )

    def gain(self, product_id: str, store: str, kind: Predicate, *wanted: Predicate) -> int:
        """2 = the kind and every `wanted` predicate (stated, soft), 1 = the kind only,
        0 otherwise; a product of another store earns nothing."""
        if kind.get("none") or not self.meets(product_id, store, kind):
            return 0
        return 2 if self.meets(product_id, store, *wanted) else 1

    def ideal_gains(self, store: str, kind: Predicate, *wanted: Predicate) -> list[int]:
        return [self.gain(f.id, store, kind, *wanted) for f in self.in_store(store)]

    def broken(
        self, product_id: str, stated: Predicate, shown_color: str | None = None
    ) -> list[str]:
        """The stated constraints a shown card breaks (an unknown product breaks them all)."""
        facts = self.facts.get(product_id)
        if facts is None:
            return sorted(stated)
        return failures(facts, stated, shown_color)

    def price(self, product_id: str) -> float | None:
        facts = self.facts.get(product_id)
        return None if facts is None else facts.price

    def leaf(self, product_id: str) -> str | None:
        facts = self.facts.get(product_id)
        return None if facts is None else facts.leaf


def dcg(gains: Sequence[float]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg(page: Sequence[int], all_gains: Sequence[int], k: int) -> float | None:
    """NDCG@k of a page against the best page the whole store allows; None when the store has
    nothing relevant (the request cannot be ranked)."""
    ideal = dcg(sorted(all_gains, reverse=True)[:k])
    return dcg(page[:k]) / ideal if ideal else None
