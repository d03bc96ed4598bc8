"""The dialogue's view of the catalog: a small protocol that `assistant` implements.

Dialogue never imports `retrieval`; it asks for products through `CatalogPort` and gets back
plain facts (`ProductCard`) with the evidence that justifies each match. Everything a reply says
about a product comes from these objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from dialogue._wishes import Constraints, Exclusions, Preferences

# Turns texts into L2-normalised sentence vectors (one row per text).
Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class ReviewFact:
    rating: float
    text: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class ProductCard:
    """The catalog facts about one product that replies may state."""

    id: str
    title: str
    price: float | None
    regular_price: float | None = None  # set only when the product is on sale
    in_sale: bool = False  # a price cut or the store's own sale label (flag or sale category)
    currency: str = "USD"
    price_is_from: bool = False
    category: str = ""
    categories: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    in_stock_sizes: tuple[str, ...] = ()
    in_stock_colors: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    # The product's values of the catalog's filter attributes ("material": ("Cotton",)).
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    brand: str | None = None
    rating: float | None = None
    review_count: int = 0
    in_stock: bool = True
    image: str | None = None
    summary: str = ""
    reviews: tuple[ReviewFact, ...] = ()
    # The catalog's photo of each colour that has one, as (colour, photo) pairs.
    color_images: tuple[tuple[str, str], ...] = ()
    # The colour `image` shows when it was chosen for one (see `in_color`).
    image_color: str | None = None

    def in_color(self, *colors: str) -> ProductCard:
        """This card showing the photo of the first of `colors` the catalog has one of, so a
        shopper who asked for blue sees the blue one; unchanged when there is none."""
        photos = {c.lower(): (c, path) for c, path in self.color_images}
        for wanted in colors:
            if wanted.lower() in photos:
                color, path = photos[wanted.lower()]
                return replace(self, image=path, image_color=color)
        return self

    @property
    def needs_size(self) -> bool:
        """Apparel with sizes needs one before it can go in the cart."""
        return len(self.sizes) > 1

    @property
    def needs_color(self) -> bool:
        return len(self.colors) > 1

    @property
    def offered_sizes(self) -> tuple[str, ...]:
        """The sizes a shopper may choose: those in stock, else every one the catalog lists (a
        catalog without stock data)."""
        return self.in_stock_sizes or self.sizes

    @property
    def offered_colors(self) -> tuple[str, ...]:
        """The colours a shopper may choose, as `offered_sizes`."""
        return self.in_stock_colors or self.colors

    def has_variant(self, size: str | None, color: str | None) -> bool:
        sizes = {s.lower() for s in self.offered_sizes}
        colors = {c.lower() for c in self.offered_colors}
        return (size is None or size.lower() in sizes) and (
            color is None or color.lower() in colors
        )


@dataclass(frozen=True, slots=True)
class ProductText:
    """Everything a product question may be answered from, as the catalog states it: the card
    keeps a truncated summary and a few reviews for display; answers need the whole text, and
    quote it verbatim, so nothing here is paraphrased."""

    id: str
    title: str
    # Every attribute the catalog has, name -> values ("climate": ("Rainy", "Windy")).
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sizes: tuple[str, ...] = ()  # in stock (all of them when the catalog keeps no stock)
    colors: tuple[str, ...] = ()
    description: tuple[str, ...] = ()  # sentences, plain text
    reviews: tuple[ReviewFact, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """Why a product matched, as the retriever found it in the catalog."""

    met: tuple[str, ...] = ()
    unmet: tuple[str, ...] = ()
    text_span: str | None = None
    review_snippet: str | None = None
    review_rating: float | None = None
    price_vs_limit: float | None = None
    # The shopper's photo nearly duplicates this product's store photo.
    lookalike: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    card: ProductCard
    evidence: MatchEvidence = field(default_factory=MatchEvidence)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    text: str = ""
    constraints: Constraints = field(default_factory=Constraints)
    exclude: Exclusions = field(default_factory=Exclusions)
    prefer: Preferences = field(default_factory=Preferences)
    sort: str | None = None
    image: Any = None
    similar_to: str | None = None
    k: int = 5
    offset: int = 0
    # Already shown for this request (the pages before); never shown again.
    seen: tuple[str, ...] = ()
    # The shopper's own feedback, passed only while they allow personalisation.
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PhotoSeen:
    """What the store made of a shopper's photo, said in the reply so a wrong guess shows."""

    kind: str | None = None  # the store's category the photo seems to show ("Jackets")
    department: str | None = None  # and whose ("Women"), when the store knows
    # The one product whose store photo the shopper's photo nearly duplicates.
    lookalike: str | None = None


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    matches: list[Match]
    total: int = 0
    # When hard constraints empty the result: which one did, and the nearest relaxation.
    empty_reason: str | None = None
    relaxed_constraint: str | None = None
    relaxed_matches: list[Match] = field(default_factory=list)
    # Fewer than k full matches: near misses, each with `evidence.unmet`.
    alternatives: list[Match] = field(default_factory=list)
    # Constraint fields the store states nothing about for this kind (no gender on bags):
    # they ranked by their words instead of filtering, so the reply must not claim them.
    unfiltered: tuple[str, ...] = ()
    # A photo search: the kind its results keep to (or favour) and the product it looks like.
    photo: PhotoSeen | None = None


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """An order as the store's own order system describes it; the reply quotes it as given."""

    order_id: str
    status: str
    estimated_delivery: str | None = None
    tracking_url: str | None = None


class OrderLookupUnavailable(Exception):
    """The store's order system did not answer usefully (down, slow, or a malformed reply)."""


class OrderPort(Protocol):
    """What the dialogue needs to answer "where is my order?"; `assistant` wires the store's
    order-lookup hook. `lookup` returns None for an order the store does not know and raises
    `OrderLookupUnavailable` when it cannot tell."""

    def lookup(self, order_id: str) -> OrderStatus | None: ...


class CatalogPort(Protocol):
    """What the dialogue needs from the store; `assistant` adapts the retrieval engine."""

    def search(self, request: SearchRequest) -> SearchOutcome: ...

    def product(self, product_id: str) -> ProductCard | None: ...

    def complete_the_look(self, product_id: str, k: int, kinds: Sequence[str] = ()) -> list[Match]:
        """Up to k products that go with this one; only of these category names when given."""
        ...

    def product_text(self, product_id: str) -> ProductText | None:
        """The product's whole answerable text (None for an unknown product)."""
        ...

    def vocabulary(self) -> dict[str, list[str]]:
        """Facet -> the catalog's own values (category, color, size, gender, brand, label,
        style, each filter attribute)."""
        ...

    def attributes(self) -> tuple[str, ...]:
        """The product attributes a shopper's words filter by besides category, brand, colour,
        size and gender ("material", "pattern"): the store's facet vocabulary, so a facet
        the store adds needs no change here. Their values are in `vocabulary`."""
        ...

    def kinds(self) -> dict[str, str]:
        """The nouns product titles use ("headlamp", "chalk bag") -> the category most products
        so named are filed under, so a shopper's word for a product finds its category."""
        ...

    def product_names(self) -> dict[str, tuple[str, ...]]:
        """The names that open product titles ("teton", "pulse recon", "trailtracker") -> the
        titles carrying them, so "the Teton pullover" is that product."""
        ...

    def mentions(self, words: str) -> bool:
        """Whether any product's own text uses these words ("swimsuit" in no title,
        attribute or description: the store does not sell swimsuits)."""
        ...

    def closeness(self, text: str) -> float:
        """How close a message comes to the nearest product's own text (cosine, about 0-1):
        the store's own reading of whether words are about anything it sells."""
        ...

    def nearest_kinds(self, text: str, k: int) -> dict[str, int]:
        """Category name (lower-cased, every level) -> how many of the `k` products nearest a
        message as a whole it holds: what the message points at, for telling a kind asked for
        from one said in passing."""
        ...

    def namesakes(self, product_id: str) -> list[ProductCard]:
        """The other products sold under exactly this product's title (two "Carbon Fiber
        Trekking Poles" at two prices): a search shows one of a family, a shopper asking for
        the title means every one of them."""
        ...
