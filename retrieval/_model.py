"""The typed catalog model: the one shape every source adapter produces and the store keeps.

Plain dataclasses with `to_dict`/`from_dict`, so a product round-trips through SQLite JSON,
the HTTP API and tests without a serialisation layer of its own.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# How stores write "yes" in flag attributes (Magento apparel "Yes", gear CSVs "1").
YES_VALUES = frozenset({"yes", "1", "true", "y"})
NO_VALUES = frozenset({"no", "0", "false", "n", ""})
SALE_CATEGORY = re.compile(r"\b(?:sale|clearance|outlet)\b", re.IGNORECASE)
# The facet vocabulary, defined here once for retrieval, dialogue and their evaluations.
# A product's category, brand, colour, size and gender have fields and rules of their own
# (a hierarchy, the brand field, variants, "unisex"). Every other attribute shoppers choose by
# is named here: a value a shopper says for one is recognised from the catalog's own values,
# filtered on where the kind of product carries the attribute, excluded when negated, shown
# on product details and described in replies ("sleeve_length" as "sleeve length"). Adding a
# facet that a new catalog carries is one name here.
FILTER_ATTRIBUTES = ("material", "activity", "pattern", "sleeve_length", "features")


class ImageRole(StrEnum):
    """Which view of the product a photo shows; drives the card photo and the photo benchmark."""

    MAIN = "main"
    ALT = "alt"
    BACK = "back"


class LinkKind(StrEnum):
    """Merchandising links between products, as a store defines them."""

    RELATED = "related"
    UPSELL = "upsell"
    CROSSSELL = "crosssell"
    BUNDLE_ITEM = "bundle_item"
    GROUPED_ITEM = "grouped_item"


class ProductType(StrEnum):
    SIMPLE = "simple"
    CONFIGURABLE = "configurable"
    BUNDLE = "bundle"
    GROUPED = "grouped"


@dataclass(slots=True)
class Variant:
    """One purchasable option of a configurable product (a size/colour combination)."""

    sku: str
    size: str | None = None
    color: str | None = None
    in_stock: bool = True
    qty: float | None = None
    price: float | None = None


@dataclass(slots=True)
class ProductImage:
    """A photo; `path` is absolute and checked to exist at ingest time."""

    path: str
    role: ImageRole = ImageRole.MAIN
    color: str | None = None
    label: str | None = None


@dataclass(slots=True)
class Review:
    rating: float
    text: str
    title: str = ""
    author: str = ""


@dataclass(slots=True)
class ProductLink:
    """A link to another product by its store SKU (resolved to an id by the store)."""

    kind: LinkKind
    target_sku: str


@dataclass(slots=True)
class Product:
    """A product as shoppers see it: every fact the assistant may state comes from here."""

    id: str
    sku: str
    catalog: str
    title: str
    description: str = ""
    product_type: ProductType = ProductType.SIMPLE
    category_path: list[str] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    price: float | None = None
    sale_price: float | None = None
    msrp: float | None = None
    price_is_from: bool = False
    currency: str = "USD"
    brand: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    variants: list[Variant] = field(default_factory=list)
    images: list[ProductImage] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    links: list[ProductLink] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def category_names(self) -> list[str]:
        """Every category name on the product's paths (its department path when the store
        gives no others), each once, in path order: "Men", "Tops", "Jackets", "Erin Recommends"."""
        paths = self.categories or [self.category_path]
        return list(dict.fromkeys(name for path in paths for name in path))

    @property
    def effective_price(self) -> float | None:
        """What the shopper pays now: the sale price when it undercuts the regular price."""
        if self.sale_price is not None and (self.price is None or self.sale_price < self.price):
            return self.sale_price
        return self.price

    @property
    def on_sale(self) -> bool:
        """A real price cut: the shopper pays less than the regular price."""
        return self.effective_price is not None and self.effective_price != self.price

    @property
    def in_sale(self) -> bool:
        """On sale as the store labels it: a price cut, or the store's own sale flag (Magento's
        `sale` attribute) or sale category ("Women Sale", "Clearance"), which Luma uses for
        most of its sale items without a special price."""
        if self.on_sale:
            return True
        if any(v.strip().lower() in YES_VALUES for v in self.attributes.get("sale", [])):
            return True
        return any(SALE_CATEGORY.search(name) for path in self.categories for name in path)

    @property
    def in_stock(self) -> bool:
        return not self.variants or any(v.in_stock for v in self.variants)

    @property
    def sizes(self) -> list[str]:
        return self._variant_values("size")

    @property
    def colors(self) -> list[str]:
        return self._variant_values("color")

    @property
    def rating(self) -> float | None:
        if not self.reviews:
            return None
        return round(sum(r.rating for r in self.reviews) / len(self.reviews), 2)

    def attribute_values(self, name: str) -> list[str]:
        """Values of an attribute including what variants offer (sizes, colours)."""
        values = list(self.attributes.get(name, []))
        for value in self._variant_values(name) if name in ("size", "color") else []:
            if value not in values:
                values.append(value)
        return values

    def _variant_values(self, name: str) -> list[str]:
        seen: list[str] = []
        for variant in self.variants:
            value = getattr(variant, name)
            if value and value not in seen:
                seen.append(value)
        if not seen:
            seen = list(self.attributes.get(name, []))
        return seen

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Product:
        fields = dict(data)
        fields["product_type"] = ProductType(fields.get("product_type", ProductType.SIMPLE))
        fields["variants"] = [Variant(**v) for v in fields.get("variants", [])]
        fields["images"] = [
            ProductImage(**{**i, "role": ImageRole(i.get("role", ImageRole.MAIN))})
            for i in fields.get("images", [])
        ]
        fields["reviews"] = [Review(**r) for r in fields.get("reviews", [])]
        fields["links"] = [
            ProductLink(kind=LinkKind(link["kind"]), target_sku=link["target_sku"])
            for link in fields.get("links", [])
        ]
        return cls(**fields)


def product_id(catalog: str, sku: str) -> str:
    """Ids are namespaced by catalog so two stores' SKUs never collide in one index."""
    return f"{catalog}:{sku}"
