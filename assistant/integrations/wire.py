"""The wire shapes of a product card and a cart line, defined once for every client.

`Product` and `CartItem` are what the HTTP API sends (and what its OpenAPI schema documents);
the Rasa action server's custom payload carries the fields named in `RASA_PRODUCT_FIELDS` and
`RASA_CART_FIELDS` of the same models (a card there adds its suggestion's `reason`).
`product_card` and `cart_line` make them from the dialogue's `ProductCard` and `CartLine`.
A card carries the photo's URL on the web app (`image_url`), never a server file path.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote, urlencode

from pydantic import BaseModel, Field, computed_field

from dialogue import CartLine, ProductCard

PREFIX = "/api/v1"  # where the HTTP API (and so the photos) is served


class Review(BaseModel):
    rating: float
    text: str
    title: str = ""


class Product(BaseModel):
    """A product card: the catalog facts the assistant may state about a product."""

    id: str = Field(examples=["luma:WJ03"])
    title: str
    price: float | None = Field(description="the price to pay (the sale price when on sale)")
    regular_price: float | None = Field(description="set only when the product is on sale")
    in_sale: bool = Field(
        False, description="on sale as the store labels it: a price cut, its sale flag or category"
    )
    currency: str
    price_is_from: bool = Field(description="bundles and kits: the price of the cheapest choice")
    category: str
    categories: list[str]
    sizes: list[str]
    colors: list[str]
    in_stock_sizes: list[str]
    in_stock_colors: list[str]
    genders: list[str]
    attributes: dict[str, list[str]] = Field(
        description="the catalog's other filter attributes (material, activity, pattern, "
        "sleeve_length) -> this product's values"
    )
    brand: str | None
    rating: float | None
    review_count: int
    in_stock: bool
    image_url: str | None = Field(
        description="the photo, served by this API: of the colour searched for when the catalog "
        "has one, else the main photo"
    )
    image_color: str | None = Field(description="the colour the photo shows, when chosen for one")
    summary: str
    reviews: list[Review]


class CartItem(BaseModel):
    product_id: str
    title: str
    unit_price: float | None
    quantity: int
    size: str | None
    color: str | None
    removed: bool = Field(
        False, description="the product left the catalog since it was added; checkout refuses it"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> float | None:
        return None if self.unit_price is None else round(self.unit_price * self.quantity, 2)


# The fields of each that the Rasa payload carries, dumped in the models' order.
RASA_PRODUCT_FIELDS = frozenset(
    {
        "id",
        "title",
        "price",
        "regular_price",
        "currency",
        "price_is_from",
        "sizes",
        "colors",
        "rating",
        "review_count",
        "in_stock",
        "image_url",
    }
)
RASA_CART_FIELDS = frozenset({"product_id", "title", "unit_price", "quantity", "size", "color"})


def image_url(product_id: str, color: str | None = None) -> str:
    """Where the web app serves a product's photo (of `color` when given): cards never carry
    server file paths."""
    url = f"{PREFIX}/products/{quote(product_id, safe=':')}/image"
    return f"{url}?{urlencode({'color': color})}" if color else url


def product_card(card: ProductCard) -> Product:
    """The card on the wire: its photo's path becomes the web app's URL for it."""
    url = image_url(card.id, card.image_color) if card.image else None
    fields = {k: v for k, v in asdict(card).items() if k not in ("image", "color_images")}
    return Product.model_validate({**fields, "image_url": url})


def cart_line(line: CartLine) -> CartItem:
    return CartItem.model_validate(line, from_attributes=True)
