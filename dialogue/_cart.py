"""Cart rules, kept once for every way into a cart: the dialogue ("add the 2nd in M") and the
direct calls of the HTTP API, the Rasa actions and the web app's buttons (`Assistant.add_to_cart`).

Which variant a choice means (a product offered in one size needs no size said; "m" is the
catalog's "M"), which choices keep a product out of the cart (`variant_gaps`: a size or colour
not chosen, or not offered) and how a line grows (the same variant again adds to its line, up
to `MAX_LINE_QUANTITY`). Asking the shopper, or refusing a caller, stays with each caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogue._protocol import ProductCard
from dialogue._state import MAX_LINE_QUANTITY, CartLine


class QuantityLimit(ValueError):
    """The line would hold more than `MAX_LINE_QUANTITY`; `held` is what it holds now."""

    def __init__(self, card: ProductCard, held: int) -> None:
        super().__init__(
            f"at most {MAX_LINE_QUANTITY} of one item per order; "
            f"the cart already has {held} of {card.title}"
        )
        self.held = held


def catalog_spelling(values: tuple[str, ...], wanted: str | None) -> str | None:
    """The catalog's spelling of a size or colour as typed ("m" -> "M"); unknown ones as typed."""
    if wanted is None:
        return None
    return next((v for v in values if v.lower() == wanted.lower()), wanted)


@dataclass(frozen=True, slots=True)
class VariantGap:
    """A size or colour that keeps a product out of the cart: not chosen (`chosen` is None)
    though the product comes in several, or chosen but not one it is offered in."""

    facet: str  # "size" or "color"
    chosen: str | None
    offered: tuple[str, ...]  # what may be chosen (ProductCard.offered_sizes / offered_colors)

    @property
    def missing(self) -> bool:
        return self.chosen is None


def only_choices(
    card: ProductCard, size: str | None, color: str | None
) -> tuple[str | None, str | None]:
    """The size and colour, with the one the product offers (in stock, else at all) filled in
    where it offers a single one."""
    sizes, colors = card.offered_sizes, card.offered_colors
    size = size or (sizes[0] if len(sizes) == 1 else None)
    color = color or (colors[0] if len(colors) == 1 else None)
    return size, color


def variant_gaps(card: ProductCard, size: str | None, color: str | None) -> list[VariantGap]:
    """What keeps this size and colour of the product out of the cart, the size first; empty
    when nothing does. The one check for every way into a cart: the dialogue says so or asks
    the shopper, `Assistant.add_to_cart` refuses its caller."""
    choices = (
        ("size", size, card.needs_size, card.has_variant(size, None), card.offered_sizes),
        ("color", color, card.needs_color, card.has_variant(None, color), card.offered_colors),
    )
    return [
        VariantGap(facet, chosen, offered)
        for facet, chosen, needed, available, offered in choices
        if (needed if chosen is None else not available)
    ]


def put_in_cart(
    cart: list[CartLine], card: ProductCard, quantity: int, size: str | None, color: str | None
) -> CartLine:
    """Add the variant to the cart (a new line, or more of the same line) and return the line.
    Raises QuantityLimit when the line would hold more than MAX_LINE_QUANTITY."""
    size, color = catalog_spelling(card.sizes, size), catalog_spelling(card.colors, color)
    key = (card.id, size, color)
    line = next((c for c in cart if (c.product_id, c.size, c.color) == key), None)
    held = line.quantity if line is not None else 0
    if held + quantity > MAX_LINE_QUANTITY:
        raise QuantityLimit(card, held)
    if line is None:
        line = CartLine(card.id, card.title, card.price, quantity, size, color)
        cart.append(line)
    else:
        line.quantity += quantity
    return line
