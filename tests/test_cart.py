"""The cart rules every way into a cart shares (dialogue/_cart.py)."""

from __future__ import annotations

import pytest

from dialogue import (
    MAX_LINE_QUANTITY,
    CartLine,
    ProductCard,
    QuantityLimit,
    VariantGap,
    only_choices,
    put_in_cart,
    variant_gaps,
)
from dialogue._cart import catalog_spelling

TEE = ProductCard("t", "Trail Tee", 20.0, sizes=("S", "M"), colors=("Blue",))
BOTTLE = ProductCard("b", "Bottle", 7.0)


class TestCartRules:
    def test_a_single_offered_choice_is_filled_in(self):
        assert only_choices(TEE, None, None) == (None, "Blue")
        assert only_choices(TEE, "M", "Red") == ("M", "Red")  # said choices are kept
        in_stock = ProductCard("x", "X", 1.0, sizes=("S", "M"), in_stock_sizes=("M",))
        assert only_choices(in_stock, None, None) == ("M", None)

    def test_what_keeps_a_variant_out_of_the_cart_size_first(self):
        assert variant_gaps(TEE, "m", "BLUE") == [] and variant_gaps(BOTTLE, None, None) == []
        assert variant_gaps(TEE, None, None) == [VariantGap("size", None, ("S", "M"))]
        assert variant_gaps(TEE, None, "Red") == [
            VariantGap("size", None, ("S", "M")),
            VariantGap("color", "Red", ("Blue",)),
        ]
        assert [g.missing for g in variant_gaps(TEE, None, "Red")] == [True, False]
        # Only what is in stock may be chosen; one colour needs none said.
        in_stock = ProductCard("x", "X", 1.0, sizes=("S", "M"), in_stock_sizes=("M",))
        assert variant_gaps(in_stock, "S", None) == [VariantGap("size", "S", ("M",))]
        assert variant_gaps(BOTTLE, None, "Red") == [VariantGap("color", "Red", ())]

    def test_the_catalogs_spelling(self):
        assert catalog_spelling(("XS", "M"), "m") == "M"
        assert catalog_spelling(("XS", "M"), "xxl") == "xxl"
        assert catalog_spelling(("XS",), None) is None

    def test_the_same_variant_adds_to_its_line(self):
        cart: list[CartLine] = []
        first = put_in_cart(cart, TEE, 1, "m", "blue")
        again = put_in_cart(cart, TEE, 2, "M", "Blue")
        assert again is first and first.quantity == 3 and (first.size, first.color) == ("M", "Blue")
        put_in_cart(cart, TEE, 1, "S", "Blue")
        put_in_cart(cart, BOTTLE, 1, None, None)
        assert [(c.product_id, c.size, c.quantity) for c in cart] == [
            ("t", "M", 3),
            ("t", "S", 1),
            ("b", None, 1),
        ]

    def test_a_line_never_holds_more_than_the_limit(self):
        cart: list[CartLine] = []
        put_in_cart(cart, BOTTLE, MAX_LINE_QUANTITY - 1, None, None)
        with pytest.raises(QuantityLimit) as full:
            put_in_cart(cart, BOTTLE, 2, None, None)
        assert (
            full.value.held == MAX_LINE_QUANTITY - 1 and cart[0].quantity == MAX_LINE_QUANTITY - 1
        )
        assert isinstance(full.value, ValueError) and "Bottle" in str(full.value)
