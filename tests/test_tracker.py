"""Dialogue state tracking rules, on hand-made shown lists (our own logic under test)."""

from __future__ import annotations

import pytest

from dialogue import DialogueState, EntityExtractor, ProductCard, load_nlu, track
from tests.conftest import REPO
from tests.test_slots import ATTRIBUTES, VOCABULARY


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor(
        VOCABULARY, load_nlu(REPO / "prompts" / "nlu.yml"), attributes=ATTRIBUTES
    )


def card(pid: str, price: float, categories=("jackets",), colors=("Blue", "Black")) -> ProductCard:
    return ProductCard(id=pid, title=pid.title(), price=price, categories=categories, colors=colors,
                       sizes=("S", "M", "L"))  # fmt: skip


class Session:
    def __init__(self, extractor: EntityExtractor) -> None:
        self.extractor = extractor
        self.state = DialogueState()

    def say(self, intent: str, text: str):
        return track(self.state, intent, text, self.extractor.extract(text))

    @property
    def filters(self) -> dict:
        return self.state.constraints.active()


@pytest.fixture
def session(extractor) -> Session:
    return Session(extractor)


@pytest.fixture
def gear_session() -> Session:
    """A store whose titles name boots, shoes and headlamps (the nouns `kind_nouns` reads)."""
    vocabulary = {**VOCABULARY, "category": [*VOCABULARY["category"], "footwear", "trekking"]}
    kinds = {"boots": "Footwear", "shoes": "Footwear", "headlamp": "Trekking"}
    return Session(
        EntityExtractor(
            vocabulary, load_nlu(REPO / "prompts" / "nlu.yml"), kinds, attributes=ATTRIBUTES
        )
    )


class TestConstraints:
    def test_refine_adds_and_a_new_value_replaces(self, session):
        session.say("browse_category", "women's jackets")
        session.say("refine_search", "in blue")
        assert session.filters == {"categories": ("jackets",), "genders": ("women",),
                                   "colors": ("blue",)}  # fmt: skip
        session.say("refine_search", "actually red")
        assert session.filters["colors"] == ("red",)
        session.say("refine_search", "or black")
        assert set(session.filters["colors"]) == {"red", "black"}

    def test_negation_moves_a_value_to_exclusions(self, session):
        session.say("browse_category", "jackets in black")
        session.say("refine_search", "not black")
        assert "colors" not in session.filters
        assert session.state.exclude.colors == ("black",)
        session.say("refine_search", "actually black is fine")
        assert session.state.exclude.colors == () and session.filters["colors"] == ("black",)

    def test_not_that_kind_inside_the_wanted_category(self, gear_session):
        gear_session.say("search_products", "hiking shoes, not boots")
        assert gear_session.filters["categories"] == ("footwear",)
        exclude = gear_session.state.exclude
        assert exclude.kinds == ("boots",) and exclude.categories == ()
        assert gear_session.state.prefer.kinds == ("shoes",)

    def test_not_on_sale_is_an_exclusion_and_on_sale_undoes_it(self, session):
        session.say("search_products", "jackets that aren't on clearance")
        assert session.state.exclude.on_sale and "on_sale" not in session.filters
        session.say("refine_search", "actually show me the sale ones")
        assert not session.state.exclude.on_sale and session.filters["on_sale"] is True

    def test_the_kind_words_go_with_the_kind(self, gear_session):
        gear_session.say("search_products", "headlamps")
        assert gear_session.filters["categories"] == ("trekking",)
        assert gear_session.state.prefer.kinds == ("headlamps",)
        gear_session.say("refine_search", "in red")
        assert gear_session.state.prefer.kinds == ("headlamps",)
        gear_session.say("remove_filter", "any category")
        assert gear_session.state.prefer.kinds == ()

    def test_price_keeps_a_compatible_bound(self, session):
        session.say("search_products", "jackets over 20")
        session.say("refine_search", "under 60")
        assert (session.filters["price_min"], session.filters["price_max"]) == (20, 60)

    def test_remove_filter(self, session):
        session.say("search_products", "blue jackets under $50 in M")
        session.say("remove_filter", "forget the price limit")
        assert "price_max" not in session.filters and session.filters["sizes"] == ("m",)
        session.say("remove_filter", "any colour is fine")
        assert "colors" not in session.filters

    @pytest.mark.parametrize(
        ("first", "intent", "then", "expected"),
        [
            ("women's jackets under 60", "remove_filter",
             "ok forget the price limit, what have you got in gray",
             {"categories": ("jackets",), "genders": ("women",), "colors": ("gray",)}),
            ("tees on sale", "remove_filter", "forget the sale bit, just show me green tees",
             {"categories": ("tees",), "colors": ("green",)}),
            ("red jackets under 100", "refine_search",
             "zephyr ones instead - any colour, any price",
             {"categories": ("jackets",), "brands": ("zephyr",)}),
            ("bags on sale", "remove_filter", "now tees, sale or not", {"categories": ("tees",)}),
            ("black jackets in M", "sort_results", "size doesn't matter, cheapest first",
             {"categories": ("jackets",), "colors": ("black",)}),
            ("jackets on sale", "remove_filter", "nothing on sale? ok forget the sale part",
             {"categories": ("jackets",)}),
        ],
    )  # fmt: skip
    def test_a_wish_let_go_in_passing_clears_and_the_rest_refines(
        self, session, first, intent, then, expected
    ):
        session.say("search_products", first)
        result = session.say(intent, then)
        assert session.filters == expected and result.cleared
        if intent == "sort_results":
            assert session.state.sort == "price_asc"

    def test_skipping_sale_items_excludes_them(self, session):
        session.say("search_products", "ladies watch - skip anything on sale")
        assert session.state.exclude.on_sale and "on_sale" not in session.filters

    @pytest.mark.parametrize(
        ("first", "intent", "then", "expected"),
        [
            ("show me jackets", "refine_search", "black hoodies price doesn't matter",
             {"categories": ("hoodies & sweatshirts",), "colors": ("black",)}),
            ("jackets", "search_products", "do you have blue jackets or not",
             {"categories": ("jackets",), "colors": ("blue",)}),
            ("jackets", "search_products", "drop-shoulder tees in black",
             {"categories": ("tees",), "colors": ("black",)}),
            ("jackets under 100", "remove_filter", "forget the price limit, show me ones under $60",
             {"categories": ("jackets",), "price_max": 60.0, "price_below": True}),
            ("blue jackets", "refine_search", "never mind the colour, red is fine",
             {"categories": ("jackets",), "colors": ("red",)}),
            ("black jackets under 50", "remove_filter",
             "remove the black filter and forget the price", {"categories": ("jackets",)}),
            ("jackets", "refine_search", "any jackets in blue?",
             {"categories": ("jackets",), "colors": ("blue",)}),
        ],
    )  # fmt: skip
    def test_what_a_release_does_not_touch(self, session, first, intent, then, expected):
        session.say("search_products", first)
        session.say(intent, then)
        assert session.filters == expected

    def test_not_that_expensive_hides_nothing(self, session):
        session.state.shown = [card("a", 60), card("b", 45)]
        session.say("refine_search", "not that expensive please")
        assert session.state.exclude.product_ids == ()

    def test_released_words_drop_the_value_they_stem_from(self):
        vocabulary = {**VOCABULARY, "pattern": ["striped"]}
        nlu = load_nlu(REPO / "prompts" / "nlu.yml")
        session = Session(EntityExtractor(vocabulary, nlu, attributes=(*ATTRIBUTES, "pattern")))
        session.say("search_products", "striped tees")
        assert session.filters["pattern"] == ("striped",)
        session.say("sort_results", "forget the stripes, priciest first")
        assert session.filters == {"categories": ("tees",)}
        assert session.state.sort == "price_desc"

    def test_a_new_category_starts_a_new_topic_and_keeps_the_cart(self, session):
        session.say("search_products", "blue jackets under 50")
        session.state.cart.append(object())  # type: ignore[arg-type]
        result = session.say("search_products", "show me bags")
        assert result.new_topic and session.filters == {"categories": ("bags",)}
        assert len(session.state.cart) == 1

    def test_start_over(self, session):
        session.say("search_products", "blue jackets")
        session.say("search_products", "start over: watches")
        assert session.filters == {"categories": ("watches",)}

    def test_unknown_values_are_reported_not_filtered(self, session):
        result = session.say("search_products", "navy jackets")
        assert result.unavailable == [("color", "navy")]
        assert session.filters == {"categories": ("jackets",)}

    def test_sort_and_pages(self, session):
        session.say("browse_category", "jackets")
        session.say("sort_results", "cheapest first")
        session.say("show_more", "more")
        assert (session.state.sort, session.state.page) == ("price_asc", 1)
        session.say("refine_search", "in blue")
        assert session.state.page == 0


class TestReferences:
    @pytest.fixture
    def shown(self, session):
        session.state.shown = [card("a", 60), card("b", 45), card("c", 80, ("bags",), ("Red",))]
        return session

    @pytest.mark.parametrize(
        ("intent", "text", "targets"),
        [
            ("product_details", "tell me about the second one", ["b"]),
            ("product_details", "#3", ["c"]),
            ("product_details", "the last one", ["c"]),
            ("product_details", "the cheaper one", ["b"]),
            ("product_details", "the red one", ["c"]),
            ("product_details", "that bag", ["c"]),
            ("compare_products", "compare the first two", ["a", "b"]),
            ("compare_products", "compare 1 and 3", ["a", "c"]),
            ("compare_products", "compare them", ["a", "b", "c"]),
        ],
    )
    def test_resolved_against_the_shown_list(self, shown, intent, text, targets):
        assert shown.say(intent, text).targets == targets

    def test_focus_carries_it(self, shown):
        shown.say("product_details", "the second one")
        assert shown.state.focus == "b"
        assert shown.say("check_availability", "is it in stock").targets == ["b"]

    def test_out_of_range_is_unresolved(self, shown):
        assert shown.say("product_details", "the fifth one").unresolved == "fifth"

    def test_not_that_one_excludes_the_item(self, shown):
        shown.say("refine_search", "not the first one")
        assert shown.state.exclude.product_ids == ("a",)

    def test_not_that_one_with_nothing_in_focus_is_the_top_of_the_list(self, shown):
        shown.say("refine_search", "nah not that one, what else")
        assert shown.state.exclude.product_ids == ("a",)
        # a positive "that one" still needs saying which
        assert shown.say("add_to_cart", "add that one").targets == []

    def test_a_question_about_it_with_nothing_in_focus_is_about_the_top_result(self, shown):
        result = shown.say("product_details", "is that one waterproof?")
        assert result.targets == ["a"] and result.unresolved is None

    def test_a_colour_said_in_the_title_points_where_the_catalog_lists_none(self, session):
        session.state.shown = [
            ProductCard(id="g", title="Wanderer Green Hiking Boots", price=99.0),
            ProductCard(id="k", title="Wanderer Black Hiking Boots", price=109.0),
        ]
        assert session.say("product_details", "tell me about the black one").targets == ["k"]

    def test_them_is_the_matches_not_the_alternatives_below(self, shown):
        shown.state.matches_shown = 2  # "c" is a close alternative, labelled as such
        assert shown.say("compare_products", "compare them").targets == ["a", "b"]
        assert shown.say("compare_products", "compare all of them").targets == ["a", "b"]
