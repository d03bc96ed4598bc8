"""The search request and result types: plain, typed data that crosses module boundaries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from retrieval._model import FILTER_ATTRIBUTES, Product
from retrieval._photo_kinds import PhotoReading

if TYPE_CHECKING:
    from PIL.Image import Image

SORTS = (None, "price_asc", "price_desc", "rating")
MAX_K = 100


class AttributeValues(Mapping[str, tuple[str, ...]]):
    """Filter attribute -> values, read-only and hashable: a query is a cache key."""

    __slots__ = ("_values",)

    def __init__(self, given: Mapping[str, Iterable[str]] | None = None) -> None:
        given = given or {}
        unknown = sorted(set(given) - set(FILTER_ATTRIBUTES))
        if unknown:
            # an attribute outside the facet vocabulary is an error, not a filter ignored
            known = ", ".join(FILTER_ATTRIBUTES)
            raise ValueError(f"unknown attribute {unknown[0]!r} (filterable: {known})")
        values = ((name, (v,) if isinstance(v, str) else tuple(v)) for name, v in given.items())
        self._values = {name: v for name, v in values if v}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._values)


@dataclass(frozen=True, slots=True)
class Filters:
    """Hard constraints: every hit satisfies all of them. Values within one field are OR-ed."""

    price_min: float | None = None
    price_max: float | None = None
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    # Attribute (one of FILTER_ATTRIBUTES) -> values; a hit carries one value of each.
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=AttributeValues)
    # The store's own labels ("eco collection", "new"): a hit carries every one of them.
    labels: tuple[str, ...] = ()
    min_rating: float | None = None
    on_sale: bool = False
    in_stock: bool = False
    catalog: str | None = None
    # Product nouns a title must name ("headlamp" inside Trekking), applied only where some
    # title names one: a noun the store's titles never use ranks instead (SearchEngine).
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _attribute_values(self.attributes))
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative ({value})")
            if value == 0:
                object.__setattr__(self, name, 0.0)  # not -0.0, which reads "$-0.00"
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        if self.min_rating is not None and not 0 <= self.min_rating <= 5:
            raise ValueError("min_rating must be between 0 and 5")

    def active(self) -> list[str]:
        """Names of the fields that constrain anything (a price limit of 0 does: 0 == False
        in Python, so booleans are told apart by identity), each attribute by its own name,
        so the nearest relaxation can drop one attribute and keep the others."""
        names = [f.name for f in fields(self) if _is_set(getattr(self, f.name))]
        at = names.index("attributes") if "attributes" in names else len(names)
        return [*names[:at], *self.attributes, *names[at + 1 :]]

    def without(self, name: str) -> Filters:
        if name in self.attributes:
            return replace(self, attributes={k: v for k, v in self.attributes.items() if k != name})
        default = next(f.default for f in fields(self) if f.name == name)
        return replace(self, **{name: default})


def _is_set(value: Any) -> bool:
    return value is not None and value is not False and value != () and value != {}


def _attribute_values(given: Mapping[str, Iterable[str]]) -> AttributeValues:
    return given if isinstance(given, AttributeValues) else AttributeValues(given)


@dataclass(frozen=True, slots=True)
class Exclusions:
    """Negative constraints ("not black", "no hoodies", "anything but Nike", "not that one")."""

    colors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    # Attribute (one of FILTER_ATTRIBUTES) -> values no hit may carry.
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=AttributeValues)
    product_ids: tuple[str, ...] = ()
    # Product nouns a title must not name ("backpack" where bags are wanted).
    kinds: tuple[str, ...] = ()
    on_sale: bool = False  # leave out what the store has on sale

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _attribute_values(self.attributes))

    def active(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


@dataclass(frozen=True, slots=True)
class Preferences:
    """Soft wishes that re-rank without excluding: cheaper, a brand, style words."""

    cheaper: bool = False
    brands: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    # Product nouns asked for ("headlamp"): a title naming one ranks above one that does not.
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Personal:
    """What one shopper's own feedback says; it re-ranks and hides, never filters facts.

    `liked` products lend their colours, styles and price band to the ranking; `disliked`
    products and their near-duplicates are not shown; `co_liked` are other products that
    shoppers who liked the same things also liked (from the event log), with a score in (0, 1].
    """

    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    co_liked: tuple[tuple[str, float], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.liked or self.disliked or self.co_liked)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One request to the engine. Any mix of text, filters, a photo and a seed product."""

    text: str = ""
    filters: Filters = field(default_factory=Filters)
    exclude: Exclusions = field(default_factory=Exclusions)
    prefer: Preferences = field(default_factory=Preferences)
    personal: Personal = field(default_factory=Personal)
    image: Image | None = None
    similar_to: str | None = None
    k: int = 10
    # Rankers to use (dense, bm25, image, clip, clip_image, links); empty means all. Baselines
    # and evaluation restrict it; `diversify=False` gives the raw fused order.
    rankers: tuple[str, ...] = ()
    diversify: bool = True
    # For evaluation: photos (by path) to leave out of the image index for this query.
    ignore_image_paths: tuple[str, ...] = ()
    # For evaluation: False searches by a photo as the engine did before it read photos (no
    # guessed kind, no lookalike first), to compare against.
    read_photo: bool = True
    # "price_asc", "price_desc" or "rating": every product meeting the filters in that order
    # (the shopper asked for an order, so the whole result set is ordered, not a top few).
    sort: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(s for s in SORTS if s)}")

    def cache_key(self) -> tuple[Any, ...] | None:
        """Hashable identity for the result cache; photo queries are not cached."""
        if self.image is not None:
            return None
        return (
            self.text,
            self.filters,
            self.exclude,
            self.prefer,
            self.personal,
            self.similar_to,
            self.k,
            self.rankers,
            self.diversify,
            self.ignore_image_paths,
            self.sort,
        )


@dataclass(slots=True)
class Evidence:
    """Why a product is shown, all of it read from the catalog."""

    met: list[str] = field(default_factory=list)
    text_span: str | None = None
    review_snippet: str | None = None
    review_rating: float | None = None
    price_vs_limit: float | None = None
    channels: dict[str, int] = field(default_factory=dict)
    # For close alternatives only: the constraints this product does not meet.
    unmet: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Hit:
    product: Product
    score: float
    evidence: Evidence


@dataclass(slots=True)
class Relaxation:
    """The nearest non-empty search when hard filters empty the result."""

    dropped: str
    description: str
    count: int
    hits: list[Hit]


@dataclass(slots=True)
class SearchResult:
    hits: list[Hit]
    candidates: int
    empty_reason: str | None = None
    relaxation: Relaxation | None = None
    # When fewer than k products meet every constraint: the same kind of product for the same
    # shopper, each with `evidence.unmet` saying what it misses. Never mixed into `hits`.
    alternatives: list[Hit] = field(default_factory=list)
    # A photo query: the kind the photo seems to show and the product it looks like.
    photo: PhotoReading | None = None
